// Package model holds the types every role shares: trace IDs, tenants and
// the merging of trace fragments into one trace.
package model

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// TraceID is a 128-bit trace ID, as OTLP, Jaeger and Zipkin (128-bit) carry it.
type TraceID [16]byte

// Sentinel errors returned by ParseTraceID. Callers answer them with HTTP 400.
var (
	ErrEmptyTraceID   = errors.New("trace ID is empty")
	ErrTraceIDTooLong = errors.New("trace ID is longer than 32 hex characters")
	ErrTraceIDNotHex  = errors.New("trace ID is not hexadecimal")
	ErrZeroTraceID    = errors.New("trace ID is all zeroes")
)

// ParseTraceID parses a hex trace ID the way Tempo does: up to 32 hex
// characters, shorter IDs (64-bit Jaeger/Zipkin IDs) are left-padded with
// zeroes. Upper- and lower-case hex are both accepted.
func ParseTraceID(s string) (TraceID, error) {
	var id TraceID
	s = strings.TrimSpace(s)
	if s == "" {
		return id, ErrEmptyTraceID
	}
	if len(s) > 32 {
		return id, fmt.Errorf("%w: got %d", ErrTraceIDTooLong, len(s))
	}
	if len(s)%2 == 1 {
		s = "0" + s
	}
	var buf [16]byte
	n, err := hex.Decode(buf[:], []byte(s))
	if err != nil {
		return id, fmt.Errorf("%w: %q", ErrTraceIDNotHex, s)
	}
	copy(id[16-n:], buf[:n])
	if id.IsZero() {
		return id, ErrZeroTraceID
	}
	return id, nil
}

// IsZero reports whether every byte of the ID is zero (an invalid ID in OTLP).
func (id TraceID) IsZero() bool { return id == TraceID{} }

// String is the 32-character lower-case hex form.
func (id TraceID) String() string { return hex.EncodeToString(id[:]) }

// Compare orders IDs bytewise, the order of rows in a block.
func (id TraceID) Compare(o TraceID) int {
	for i := range id {
		if id[i] != o[i] {
			if id[i] < o[i] {
				return -1
			}
			return 1
		}
	}
	return 0
}
