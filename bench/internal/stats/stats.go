// Package stats holds what the bench tools share: latency quantiles and
// their JSON output.
package stats

import (
	"encoding/json"
	"io"
	"time"
)

// Quantile returns the q-quantile of sorted durations (nearest rank).
func Quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.5) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// Ms is d in milliseconds with microsecond precision.
func Ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// WriteJSON writes v as indented JSON.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
