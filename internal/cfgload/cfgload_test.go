package cfgload

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type testConfig struct {
	Key  string `yaml:"key"`
	Port int    `yaml:"port"`
}

func (c *testConfig) RegisterFlags(f *flag.FlagSet) {
	f.StringVar(&c.Key, "key", "default", "")
	f.IntVar(&c.Port, "port", 1, "")
}

func (c *testConfig) Validate() error {
	if c.Port < 0 {
		return errors.New("port must not be negative")
	}
	return nil
}

func TestLoadOrderIsDefaultsFileFlags(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(p, []byte("key: ${PACE_TEST_SECRET}\nport: 5\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PACE_TEST_SECRET", "s3cr3t")
	var c testConfig
	if err := Load("t", []string{"-config.file", p, "-port", "7"}, &c); err != nil {
		t.Fatal(err)
	}
	if c.Key != "${PACE_TEST_SECRET}" || c.Port != 7 {
		t.Errorf("without expand-env: %+v", c)
	}
	c = testConfig{}
	if err := Load("t", []string{"-config.file", p, "-config.expand-env"}, &c); err != nil {
		t.Fatal(err)
	}
	if c.Key != "s3cr3t" || c.Port != 5 {
		t.Errorf("with expand-env: %+v", c)
	}
}

func TestUnknownKeysAndInvalidValuesAreErrors(t *testing.T) {
	var c testConfig
	if err := Parse([]byte("kye: x\n"), &c); err == nil || !strings.Contains(err.Error(), "field kye not found") {
		t.Errorf("misspelt key: %v", err)
	}
	if err := Parse([]byte("port: -1\n"), &c); err == nil || !strings.Contains(err.Error(), "port must not be negative") {
		t.Errorf("invalid value: %v", err)
	}
}
