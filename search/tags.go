package search

import (
	"strconv"
	"strings"

	"github.com/pace-tracing/pace/block"
	"github.com/pace-tracing/pace/pacepb"
	"github.com/pace-tracing/pace/traceql"
)

// Scopes of attributes, as TraceQL and Tempo's tag APIs name them.
var attrScopes = []string{block.TagScopeSpan, block.TagScopeResource, block.TagScopeEvent, block.TagScopeLink, block.TagScopeScope}

// Intrinsics lists the intrinsic tags of the v2 tags API.
var Intrinsics = []string{
	"duration", "event:name", "event:timeSinceStart", "instrumentation:name", "instrumentation:version",
	"kind", "link:spanID", "link:traceID", "name", "rootName", "rootServiceName",
	"span:duration", "span:id", "span:kind", "span:name", "span:parentID", "span:status", "span:statusMessage",
	"status", "statusMessage", "trace:duration", "trace:id", "trace:rootName", "trace:rootService", "traceDuration",
}

// ValidScope reports whether s is a scope the tags APIs accept.
func ValidScope(s string) bool {
	switch s {
	case "", "all", "none", block.TagScopeIntrinsic:
		return true
	}
	for _, a := range attrScopes {
		if s == a {
			return true
		}
	}
	return false
}

func wantScope(want, scope string) bool {
	return want == "" || want == "all" || want == "none" || want == scope
}

// tagName is a tag of a tag-values request.
type tagName struct {
	scopes    []string // attribute scopes to look in
	key       string
	intrinsic string // canonical intrinsic name, or ""
}

var intrinsicAliases = map[string]string{
	"name": "name", "span:name": "name",
	"status": "status", "span:status": "status",
	"statusMessage": "statusMessage", "span:statusMessage": "statusMessage",
	"kind": "kind", "span:kind": "kind",
	"rootName": "rootName", "trace:rootName": "rootName",
	"rootServiceName": "rootServiceName", "trace:rootService": "rootServiceName",
	"event:name": "event:name", "instrumentation:name": "instrumentation:name",
	"instrumentation:version": "instrumentation:version",
}

func parseTagName(tag string, v2 bool) (tagName, error) {
	if tag == "" {
		return tagName{}, badRequest("a tag name is required")
	}
	if in, ok := intrinsicAliases[tag]; ok && v2 {
		return tagName{intrinsic: in}, nil
	}
	if v2 {
		for _, s := range attrScopes {
			if k, ok := strings.CutPrefix(tag, s+"."); ok && k != "" {
				return tagName{scopes: []string{s}, key: k}, nil
			}
		}
	}
	key := strings.TrimPrefix(tag, ".")
	if key == "" {
		return tagName{}, badRequest("invalid tag name %q", tag)
	}
	return tagName{scopes: []string{block.TagScopeSpan, block.TagScopeResource}, key: key}, nil
}

// spansOf returns the spans a tag request looks at.
func spansOf(t *traceql.Trace, sets []traceql.Spanset, all bool) []*traceql.Span {
	out := make([]*traceql.Span, 0, len(t.Spans))
	if all {
		for i := range t.Spans {
			out = append(out, &t.Spans[i])
		}
		return out
	}
	seen := map[*traceql.Span]bool{}
	for _, s := range sets {
		for _, ms := range s.Spans {
			if !seen[ms.Span] {
				seen[ms.Span] = true
				out = append(out, ms.Span)
			}
		}
	}
	return out
}

func collectTags(t *traceql.Trace, sets []traceql.Spanset, all bool, scope string) []*pacepb.ScopeTags {
	found := map[string]map[string]struct{}{}
	add := func(s string, attrs []traceql.Attr) {
		if !wantScope(scope, s) || len(attrs) == 0 {
			return
		}
		m := found[s]
		if m == nil {
			m = map[string]struct{}{}
			found[s] = m
		}
		for _, a := range attrs {
			m[a.Key] = struct{}{}
		}
	}
	var lastRes *traceql.Resource
	var lastScope *traceql.InstrumentationScope
	for _, sp := range spansOf(t, sets, all) {
		add(block.TagScopeSpan, sp.Attrs)
		if sp.Resource != nil && sp.Resource != lastRes {
			lastRes = sp.Resource
			add(block.TagScopeResource, sp.Resource.Attrs)
		}
		if sp.Scope != nil && sp.Scope != lastScope {
			lastScope = sp.Scope
			add(block.TagScopeScope, sp.Scope.Attrs)
		}
		for i := range sp.Events {
			add(block.TagScopeEvent, sp.Events[i].Attrs)
		}
		for i := range sp.Links {
			add(block.TagScopeLink, sp.Links[i].Attrs)
		}
	}
	out := make([]*pacepb.ScopeTags, 0, len(found))
	for s, keys := range found {
		st := &pacepb.ScopeTags{Name: s}
		for k := range keys {
			st.Tags = append(st.Tags, k)
		}
		out = append(out, st)
	}
	return out
}

func summaryTags(ts *block.TagSummary, scope string) []*pacepb.ScopeTags {
	var out []*pacepb.ScopeTags
	for _, s := range attrScopes {
		if !wantScope(scope, s) {
			continue
		}
		keys := ts.Scopes[s]
		if len(keys) == 0 {
			continue
		}
		st := &pacepb.ScopeTags{Name: s}
		for k := range keys {
			st.Tags = append(st.Tags, k)
		}
		out = append(out, st)
	}
	return out
}

func keywords(names []string) []*pacepb.TagValue {
	out := make([]*pacepb.TagValue, len(names))
	for i, n := range names {
		out[i] = &pacepb.TagValue{Type: "keyword", Value: n}
	}
	return out
}

// TypedValue is the tag-values API's form of a value; ok is false for
// values it does not list (nil, arrays).
func TypedValue(v traceql.Value) (tv *pacepb.TagValue, ok bool) {
	switch v.Type {
	case traceql.TypeString:
		return &pacepb.TagValue{Type: "string", Value: v.S}, true
	case traceql.TypeInt:
		return &pacepb.TagValue{Type: "int", Value: strconv.FormatInt(v.I, 10)}, true
	case traceql.TypeFloat:
		return &pacepb.TagValue{Type: "float", Value: strconv.FormatFloat(v.F, 'g', -1, 64)}, true
	case traceql.TypeBool:
		return &pacepb.TagValue{Type: "bool", Value: strconv.FormatBool(v.B)}, true
	}
	return nil, false
}

func collectValues(t *traceql.Trace, sets []traceql.Spanset, all bool, tag tagName) []*pacepb.TagValue {
	switch tag.intrinsic {
	case "status":
		return keywords(traceql.StatusNames)
	case "kind":
		return keywords(traceql.KindNames)
	case "rootName":
		return []*pacepb.TagValue{{Type: "string", Value: t.RootSpanName}}
	case "rootServiceName":
		return []*pacepb.TagValue{{Type: "string", Value: t.RootServiceName}}
	}
	var out []*pacepb.TagValue
	seen := map[string]bool{}
	var addV func(v traceql.Value)
	addV = func(v traceql.Value) {
		if v.Type == traceql.TypeArray {
			for _, e := range v.Arr {
				addV(e)
			}
			return
		}
		tv, ok := TypedValue(v)
		if !ok || seen[tv.Type+"\x00"+tv.Value] {
			return
		}
		seen[tv.Type+"\x00"+tv.Value] = true
		out = append(out, tv)
	}
	str := func(s string) { addV(traceql.Value{Type: traceql.TypeString, S: s}) }
	look := func(attrs []traceql.Attr) {
		for i := range attrs {
			if attrs[i].Key == tag.key {
				addV(attrs[i].Value)
			}
		}
	}
	for _, sp := range spansOf(t, sets, all) {
		switch tag.intrinsic {
		case "name":
			str(sp.Name)
			continue
		case "statusMessage":
			if sp.StatusMessage != "" {
				str(sp.StatusMessage)
			}
			continue
		case "event:name":
			for i := range sp.Events {
				str(sp.Events[i].Name)
			}
			continue
		case "instrumentation:name", "instrumentation:version":
			if sp.Scope != nil {
				if tag.intrinsic == "instrumentation:name" {
					str(sp.Scope.Name)
				} else {
					str(sp.Scope.Version)
				}
			}
			continue
		}
		for _, s := range tag.scopes {
			switch s {
			case block.TagScopeSpan:
				look(sp.Attrs)
			case block.TagScopeResource:
				if sp.Resource != nil {
					look(sp.Resource.Attrs)
				}
			case block.TagScopeScope:
				if sp.Scope != nil {
					look(sp.Scope.Attrs)
				}
			case block.TagScopeEvent:
				for i := range sp.Events {
					look(sp.Events[i].Attrs)
				}
			case block.TagScopeLink:
				for i := range sp.Links {
					look(sp.Links[i].Attrs)
				}
			}
		}
	}
	return out
}

func summaryValues(ts *block.TagSummary, tag tagName) ([]*pacepb.TagValue, bool) {
	switch tag.intrinsic {
	case "status":
		return keywords(traceql.StatusNames), true
	case "kind":
		return keywords(traceql.KindNames), true
	case "name", "statusMessage", "rootName", "rootServiceName":
		return fromSummary(ts.Scopes[block.TagScopeIntrinsic][tag.intrinsic])
	case "":
	default:
		return nil, false // event and scope names are not in the summary
	}
	var out []*pacepb.TagValue
	for _, s := range tag.scopes {
		vals, ok := fromSummary(ts.Scopes[s][tag.key])
		if !ok {
			return nil, false
		}
		out = append(out, vals...)
	}
	return out, true
}

func fromSummary(tv *block.TagValues) ([]*pacepb.TagValue, bool) {
	if tv == nil {
		return nil, true
	}
	if tv.Truncated || tv.Other {
		return nil, false
	}
	out := make([]*pacepb.TagValue, 0, len(tv.Strings)+len(tv.Ints)+len(tv.Floats)+len(tv.Bools))
	for _, s := range tv.Strings {
		out = append(out, &pacepb.TagValue{Type: "string", Value: s})
	}
	for _, i := range tv.Ints {
		out = append(out, &pacepb.TagValue{Type: "int", Value: strconv.FormatInt(i, 10)})
	}
	for _, f := range tv.Floats {
		out = append(out, &pacepb.TagValue{Type: "float", Value: strconv.FormatFloat(f, 'g', -1, 64)})
	}
	for _, b := range tv.Bools {
		out = append(out, &pacepb.TagValue{Type: "bool", Value: strconv.FormatBool(b)})
	}
	return out, true
}
