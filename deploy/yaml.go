package deploy

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// A small ordered YAML tree, so the manifests keep the field order people
// expect (apiVersion, kind, metadata, spec) and can carry comments.

// kv is one mapping entry; c is a comment written above it.
type kv struct {
	k string
	v any
	c string
}

// m is an ordered mapping.
type m []kv

// l is a block sequence.
type l []any

// flow is a sequence of strings written on one line: [a, b].
type flow []string

// literal is a multi-line string written as a |-block.
type literal string

// squoted is a string written in single quotes: a ${VAR} expanded into it
// stays one string whatever it holds, but for a single quote.
type squoted string

// yaml11Bool are the words YAML 1.1 parsers (Kubernetes' sigs.k8s.io/yaml)
// read as booleans; yaml.v3 (YAML 1.2) writes them unquoted.
var yaml11Bool = regexp.MustCompile(`^(y|Y|yes|Yes|YES|n|N|no|No|NO|on|On|ON|off|Off|OFF)$`)

func str(s string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
	// "3200:3200" is a base-60 number to YAML 1.1; quote it as compose's
	// documentation does.
	if yaml11Bool.MatchString(s) || (s != "" && s[0] >= '0' && s[0] <= '9' && strings.Contains(s, ":")) {
		n.Style = yaml.DoubleQuotedStyle
	}
	return n
}

func node(v any) *yaml.Node {
	switch v := v.(type) {
	case m:
		n := &yaml.Node{Kind: yaml.MappingNode}
		if len(v) == 0 {
			n.Style = yaml.FlowStyle
		}
		for _, e := range v {
			k := str(e.k)
			k.HeadComment = e.c
			n.Content = append(n.Content, k, node(e.v))
		}
		return n
	case l:
		n := &yaml.Node{Kind: yaml.SequenceNode}
		if len(v) == 0 {
			n.Style = yaml.FlowStyle
		}
		for _, e := range v {
			n.Content = append(n.Content, node(e))
		}
		return n
	case flow:
		n := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
		for _, e := range v {
			n.Content = append(n.Content, str(e))
		}
		return n
	case []string:
		n := &yaml.Node{Kind: yaml.SequenceNode}
		for _, e := range v {
			n.Content = append(n.Content, str(e))
		}
		return n
	case literal:
		n := str(string(v))
		n.Style = yaml.LiteralStyle
		return n
	case squoted:
		n := str(string(v))
		n.Style = yaml.SingleQuotedStyle
		return n
	case string:
		return str(v)
	case int:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: fmt.Sprint(v)}
	case bool:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: fmt.Sprint(v)}
	}
	panic(fmt.Sprintf("deploy: no YAML for %T", v))
}

// marshal writes one YAML document; comment (may be empty) goes on top.
func marshal(comment string, v any) []byte {
	n := node(v)
	n.HeadComment = comment
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(n); err != nil {
		panic(err) // only our own trees are encoded
	}
	_ = enc.Close()
	return b.Bytes()
}
