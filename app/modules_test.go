package app

import (
	"strings"
	"testing"
)

func TestTargetsAcceptEveryRoleAndCommaLists(t *testing.T) {
	for _, in := range append(Targets(), "distributor,ingester", " querier , query-frontend ", "compactor,metrics-generator,compactor") {
		got, err := ParseTargets(in)
		if err != nil || len(got) == 0 {
			t.Errorf("ParseTargets(%q) = %v, %v", in, got, err)
		}
	}
	got, _ := ParseTargets("compactor,metrics-generator,compactor")
	if len(got) != 2 {
		t.Errorf("a repeated role is run once: got %v", got)
	}
}

func TestUnknownTargetListsTheValidOnes(t *testing.T) {
	_, err := ParseTargets("ingester,injester")
	if err == nil || !strings.Contains(err.Error(), `"injester"`) || !strings.Contains(err.Error(), "metrics-generator") {
		t.Fatalf("got %v, want the bad name and the valid targets", err)
	}
	if _, err := ParseTargets(" , "); err == nil {
		t.Fatal("empty target accepted")
	}
}

func TestLoneAllProcessDoesNotGossip(t *testing.T) {
	cfg, err := Load(nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Gossip([]string{All}) {
		t.Error("a lone all process gossips")
	}
	if !cfg.Gossip([]string{Ingester}) {
		t.Error("an ingester-only process does not gossip")
	}
	cfg.Cluster.Memberlist.JoinMembers = []string{"127.0.0.1:7946"}
	if !cfg.Gossip([]string{All}) {
		t.Error("an all process with join members does not gossip")
	}
}
