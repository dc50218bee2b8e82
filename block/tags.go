package block

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sync"

	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/pace-tracing/pace/traceql"
)

// TagsFile holds the block's tag summary: every attribute key per scope and
// its distinct values (up to MaxTagValues each), written before meta.json,
// so the tag APIs answer without reading data.parquet.
const TagsFile = "tags.json"

// MaxTagValues is the number of distinct values kept per key; a key with
// more is marked Truncated and its values are found by a scan.
const MaxTagValues = 500

// Tag scopes in a TagSummary, as TraceQL names them.
const (
	TagScopeSpan      = "span"
	TagScopeResource  = "resource"
	TagScopeEvent     = "event"
	TagScopeLink      = "link"
	TagScopeScope     = "instrumentation"
	TagScopeIntrinsic = "intrinsic"
)

// TagSummary is the content of TagsFile.
type TagSummary struct {
	Scopes map[string]map[string]*TagValues `json:"scopes"`
}

// TagValues are the distinct values of one key, by type, sorted.
type TagValues struct {
	Strings   []string  `json:"s,omitempty"`
	Ints      []int64   `json:"i,omitempty"`
	Floats    []float64 `json:"f,omitempty"`
	Bools     []bool    `json:"b,omitempty"`
	Other     bool      `json:"o,omitempty"` // has values of other types (arrays, bytes, maps)
	Truncated bool      `json:"t,omitempty"` // more than MaxTagValues distinct values
}

// tagBuilder collects a TagSummary while a block is written.
type tagBuilder struct {
	scopes map[string]map[string]*tagSet
}

type tagSet struct {
	strs   map[string]struct{}
	ints   map[int64]struct{}
	floats map[float64]struct{}
	bools  [2]bool
	other  bool
	n      int
	trunc  bool
	// last is the string value most recently added: repeated values (the
	// common case) skip the map.
	last string
}

func newTagBuilder() *tagBuilder { return &tagBuilder{scopes: map[string]map[string]*tagSet{}} }

func (b *tagBuilder) set(scope, key string) *tagSet {
	keys := b.scopes[scope]
	if keys == nil {
		keys = map[string]*tagSet{}
		b.scopes[scope] = keys
	}
	s := keys[key]
	if s == nil {
		s = &tagSet{}
		keys[key] = s
	}
	return s
}

func (s *tagSet) full() bool {
	if s.n >= MaxTagValues {
		s.trunc = true
		return true
	}
	return false
}

func (s *tagSet) addString(v string) {
	if s.n > 0 && v == s.last {
		return
	}
	if s.strs == nil {
		s.strs = map[string]struct{}{}
	}
	if _, ok := s.strs[v]; ok || s.full() {
		s.last = v
		return
	}
	s.strs[v] = struct{}{}
	s.last = v
	s.n++
}

func (s *tagSet) addAttr(a *pqAttr) {
	switch {
	case a.Str != nil:
		s.addString(*a.Str)
	case a.Int != nil:
		if s.ints == nil {
			s.ints = map[int64]struct{}{}
		}
		if _, ok := s.ints[*a.Int]; !ok && !s.full() {
			s.ints[*a.Int] = struct{}{}
			s.n++
		}
	case a.Double != nil:
		if s.floats == nil {
			s.floats = map[float64]struct{}{}
		}
		if _, ok := s.floats[*a.Double]; !ok && !s.full() {
			s.floats[*a.Double] = struct{}{}
			s.n++
		}
	case a.Bool != nil:
		i := 0
		if *a.Bool {
			i = 1
		}
		if !s.bools[i] {
			s.bools[i] = true
			s.n++
		}
	case a.Any != nil:
		pv := pcommon.NewValueEmpty()
		if decodeAnyValue(a.Any, pv) != nil {
			s.other = true
			return
		}
		if v := traceql.ValueFromOTLP(pv); v.Type == traceql.TypeString {
			s.addString(v.S)
		} else {
			s.other = true // arrays
		}
	}
}

func (b *tagBuilder) addAttrs(scope string, attrs []pqAttr) {
	if len(attrs) == 0 {
		return
	}
	keys := b.scopes[scope]
	for i := range attrs {
		a := &attrs[i]
		var s *tagSet
		if keys != nil {
			s = keys[a.Key]
		}
		if s == nil {
			s = b.set(scope, a.Key)
			keys = b.scopes[scope]
		}
		s.addAttr(a)
	}
}

// addRow adds every key and value of a row.
func (b *tagBuilder) addRow(row *pqTrace) {
	intr := func(key, v string) { b.set(TagScopeIntrinsic, key).addString(v) }
	intr("rootServiceName", row.RootServiceName)
	intr("rootName", row.RootSpanName)
	name, msg := b.set(TagScopeIntrinsic, "name"), b.set(TagScopeIntrinsic, "statusMessage")
	for i := range row.ResourceSpans {
		rs := &row.ResourceSpans[i]
		if rs.Resource.HasServiceName {
			b.set(TagScopeResource, serviceNameKey).addString(rs.Resource.ServiceName)
		}
		b.addAttrs(TagScopeResource, rs.Resource.Attrs)
		for j := range rs.ScopeSpans {
			ss := &rs.ScopeSpans[j]
			b.addAttrs(TagScopeScope, ss.Scope.Attrs)
			for k := range ss.Spans {
				sp := &ss.Spans[k]
				name.addString(sp.Name)
				if sp.StatusMessage != "" {
					msg.addString(sp.StatusMessage)
				}
				b.addAttrs(TagScopeSpan, sp.Attrs)
				for e := range sp.Events {
					b.addAttrs(TagScopeEvent, sp.Events[e].Attrs)
				}
				for l := range sp.Links {
					b.addAttrs(TagScopeLink, sp.Links[l].Attrs)
				}
			}
		}
	}
}

func (b *tagBuilder) summary() *TagSummary {
	out := &TagSummary{Scopes: make(map[string]map[string]*TagValues, len(b.scopes))}
	for scope, keys := range b.scopes {
		m := make(map[string]*TagValues, len(keys))
		for k, s := range keys {
			tv := &TagValues{Other: s.other, Truncated: s.trunc}
			for v := range s.strs {
				tv.Strings = append(tv.Strings, v)
			}
			for v := range s.ints {
				tv.Ints = append(tv.Ints, v)
			}
			for v := range s.floats {
				tv.Floats = append(tv.Floats, v)
			}
			if s.bools[0] {
				tv.Bools = append(tv.Bools, false)
			}
			if s.bools[1] {
				tv.Bools = append(tv.Bools, true)
			}
			slices.Sort(tv.Strings)
			slices.Sort(tv.Ints)
			slices.Sort(tv.Floats)
			m[k] = tv
		}
		out.Scopes[scope] = m
	}
	return out
}

// Tags returns the block's tag summary (cached), or ErrNoTagSummary for a
// block written without one.
func (r *Reader) Tags(ctx context.Context) (*TagSummary, error) {
	r.tagsMu.Lock()
	defer r.tagsMu.Unlock()
	if r.tags != nil {
		return r.tags, nil
	}
	if r.meta.TagsSize == 0 {
		return nil, ErrNoTagSummary
	}
	rc, err := r.bkt.Get(ctx, r.meta.Dir()+TagsFile)
	if err != nil {
		return nil, fmt.Errorf("block %s: read tags: %w", r.meta.BlockID, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return nil, fmt.Errorf("block %s: read tags: %w", r.meta.BlockID, err)
	}
	ts := new(TagSummary)
	if err := json.Unmarshal(b, ts); err != nil {
		return nil, fmt.Errorf("block %s: decode tags: %w", r.meta.BlockID, err)
	}
	r.tags = ts
	return ts, nil
}

// ErrNoTagSummary is returned by Tags for blocks without a TagsFile.
var ErrNoTagSummary = fmt.Errorf("block has no %s", TagsFile)

func encodeTags(s *TagSummary) (*bytes.Buffer, error) {
	var bb bytes.Buffer
	if err := json.NewEncoder(&bb).Encode(s); err != nil {
		return nil, err
	}
	return &bb, nil
}

// tagsState is embedded in Reader.
type tagsState struct {
	tagsMu sync.Mutex
	tags   *TagSummary
}
