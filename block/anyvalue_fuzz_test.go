package block

import (
	"bytes"
	"testing"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// FuzzDecodeAnyValue: the decoder of the bytes column (arrays, maps, bytes)
// must refuse garbage with an error, never panic, and re-encode what it accepts
// to something that decodes to the same value.
func FuzzDecodeAnyValue(f *testing.F) {
	v := pcommon.NewValueMap()
	v.Map().PutStr("k", "v")
	arr := v.Map().PutEmptySlice("a")
	arr.AppendEmpty().SetInt(7)
	arr.AppendEmpty().SetEmptyBytes().FromRaw([]byte{1, 2})
	f.Add(appendAnyValue(nil, v))
	f.Add([]byte{0x2a, 0x03, 0x0a, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		got := pcommon.NewValueEmpty()
		if err := decodeAnyValue(b, got); err != nil {
			return
		}
		enc := appendAnyValue(nil, got)
		again := pcommon.NewValueEmpty()
		if err := decodeAnyValue(enc, again); err != nil {
			t.Fatalf("re-encoded value does not decode: %v", err)
		}
		// Compare encodings, not values: NaN is not equal to itself.
		if !bytes.Equal(appendAnyValue(nil, again), enc) {
			t.Fatalf("round trip changed the value: %v vs %v", got.AsRaw(), again.AsRaw())
		}
	})
}
