package compactor

import (
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/thanos-io/objstore"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/pace-tracing/pace/block"
	"github.com/pace-tracing/pace/model"
)

// mergeBuffer is the number of decoded traces each input may run ahead of
// the merge; with Iterate's page-at-a-time reads it bounds memory to a few
// pages and mergeBuffer traces per input.
const mergeBuffer = 32

type mergeItem struct {
	id model.TraceID
	td ptrace.Traces
}

type mergeInput struct {
	meta *block.Meta
	ch   chan mergeItem
	err  error // set before ch is closed
	head mergeItem
	ok   bool // head is valid
}

// mergeIterator merges the traces of several blocks, each sorted by trace
// ID, into one stream sorted by trace ID; fragments of one trace found in
// several blocks are merged with model.Combine, which drops duplicate spans.
// Each input is read by its own goroutine (Reader.Iterate) feeding a small
// channel. Close must be called.
type mergeIterator struct {
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	inputs  []*mergeInput
	started bool
	frags   []ptrace.Traces
}

func newMergeIterator(ctx context.Context, bkt objstore.Bucket, metas []*block.Meta) *mergeIterator {
	ctx, cancel := context.WithCancel(ctx)
	m := &mergeIterator{cancel: cancel}
	for _, meta := range metas {
		in := &mergeInput{meta: meta, ch: make(chan mergeItem, mergeBuffer)}
		m.inputs = append(m.inputs, in)
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			defer close(in.ch)
			r := block.NewReader(bkt, meta)
			defer r.Close()
			in.err = r.Iterate(ctx, func(id model.TraceID, td ptrace.Traces) error {
				select {
				case in.ch <- mergeItem{id, td}:
					return nil
				case <-ctx.Done():
					return ctx.Err()
				}
			})
		}()
	}
	return m
}

// advance loads the next trace of in into in.head.
func (m *mergeIterator) advance(ctx context.Context, in *mergeInput) error {
	var it mergeItem
	var open bool
	select {
	case it, open = <-in.ch:
	case <-ctx.Done():
		return ctx.Err()
	}
	if !open {
		in.ok = false
		if in.err != nil {
			return fmt.Errorf("read block %s: %w", in.meta.BlockID, in.err)
		}
		return nil
	}
	if in.ok && it.id.Compare(in.head.id) <= 0 {
		return fmt.Errorf("block %s: trace IDs out of order (%s after %s)", in.meta.BlockID, it.id, in.head.id)
	}
	in.head, in.ok = it, true
	return nil
}

// Next implements block.TraceIterator.
func (m *mergeIterator) Next(ctx context.Context) (model.TraceID, ptrace.Traces, error) {
	if !m.started {
		m.started = true
		for _, in := range m.inputs {
			if err := m.advance(ctx, in); err != nil {
				return model.TraceID{}, ptrace.Traces{}, err
			}
		}
	}
	// Inputs are few (max_input_blocks): a linear scan beats a heap.
	var min *mergeInput
	for _, in := range m.inputs {
		if in.ok && (min == nil || in.head.id.Compare(min.head.id) < 0) {
			min = in
		}
	}
	if min == nil {
		return model.TraceID{}, ptrace.Traces{}, io.EOF
	}
	id := min.head.id
	m.frags = m.frags[:0]
	for _, in := range m.inputs {
		if in.ok && in.head.id == id {
			m.frags = append(m.frags, in.head.td)
			if err := m.advance(ctx, in); err != nil {
				return model.TraceID{}, ptrace.Traces{}, err
			}
		}
	}
	if len(m.frags) == 1 {
		td := m.frags[0]
		m.frags[0] = ptrace.Traces{}
		return id, td, nil
	}
	td := model.Combine(m.frags...)
	clear(m.frags)
	return id, td, nil
}

// Close stops the readers and waits for them.
func (m *mergeIterator) Close() {
	m.cancel()
	m.wg.Wait()
}
