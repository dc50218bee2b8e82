package block

import (
	"errors"
	"math"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"google.golang.org/protobuf/encoding/protowire"
)

// AnyValue field numbers in opentelemetry/proto/common/v1/common.proto.
const (
	avString = 1
	avBool   = 2
	avInt    = 3
	avDouble = 4
	avArray  = 5
	avKvlist = 6
	avBytes  = 7
)

var errBadAnyValue = errors.New("block: malformed AnyValue")

// appendAnyValue appends v encoded as an OTLP AnyValue message body.
func appendAnyValue(b []byte, v pcommon.Value) []byte {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		b = protowire.AppendTag(b, avString, protowire.BytesType)
		b = protowire.AppendString(b, v.Str())
	case pcommon.ValueTypeBool:
		b = protowire.AppendTag(b, avBool, protowire.VarintType)
		b = protowire.AppendVarint(b, protowire.EncodeBool(v.Bool()))
	case pcommon.ValueTypeInt:
		b = protowire.AppendTag(b, avInt, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(v.Int()))
	case pcommon.ValueTypeDouble:
		b = protowire.AppendTag(b, avDouble, protowire.Fixed64Type)
		b = protowire.AppendFixed64(b, math.Float64bits(v.Double()))
	case pcommon.ValueTypeBytes:
		b = protowire.AppendTag(b, avBytes, protowire.BytesType)
		b = protowire.AppendBytes(b, v.Bytes().AsRaw())
	case pcommon.ValueTypeSlice:
		var arr []byte
		s := v.Slice()
		for i := 0; i < s.Len(); i++ {
			arr = protowire.AppendTag(arr, 1, protowire.BytesType)
			arr = protowire.AppendBytes(arr, appendAnyValue(nil, s.At(i)))
		}
		b = protowire.AppendTag(b, avArray, protowire.BytesType)
		b = protowire.AppendBytes(b, arr)
	case pcommon.ValueTypeMap:
		var kvl []byte
		for k, e := range v.Map().All() {
			var kv []byte
			kv = protowire.AppendTag(kv, 1, protowire.BytesType)
			kv = protowire.AppendString(kv, k)
			kv = protowire.AppendTag(kv, 2, protowire.BytesType)
			kv = protowire.AppendBytes(kv, appendAnyValue(nil, e))
			kvl = protowire.AppendTag(kvl, 1, protowire.BytesType)
			kvl = protowire.AppendBytes(kvl, kv)
		}
		b = protowire.AppendTag(b, avKvlist, protowire.BytesType)
		b = protowire.AppendBytes(b, kvl)
	}
	return b
}

// decodeAnyValue decodes an AnyValue message body into v (which must be empty).
func decodeAnyValue(b []byte, v pcommon.Value) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return errBadAnyValue
		}
		b = b[n:]
		switch {
		case num == avString && typ == protowire.BytesType:
			s, n := protowire.ConsumeString(b)
			if n < 0 {
				return errBadAnyValue
			}
			v.SetStr(s)
			b = b[n:]
		case num == avBool && typ == protowire.VarintType:
			x, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return errBadAnyValue
			}
			v.SetBool(protowire.DecodeBool(x))
			b = b[n:]
		case num == avInt && typ == protowire.VarintType:
			x, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return errBadAnyValue
			}
			v.SetInt(int64(x))
			b = b[n:]
		case num == avDouble && typ == protowire.Fixed64Type:
			x, n := protowire.ConsumeFixed64(b)
			if n < 0 {
				return errBadAnyValue
			}
			v.SetDouble(math.Float64frombits(x))
			b = b[n:]
		case num == avBytes && typ == protowire.BytesType:
			x, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return errBadAnyValue
			}
			v.SetEmptyBytes().FromRaw(x)
			b = b[n:]
		case num == avArray && typ == protowire.BytesType:
			arr, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return errBadAnyValue
			}
			b = b[n:]
			sl := v.SetEmptySlice()
			if err := forEachField1(arr, func(e []byte) error { return decodeAnyValue(e, sl.AppendEmpty()) }); err != nil {
				return err
			}
		case num == avKvlist && typ == protowire.BytesType:
			kvl, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return errBadAnyValue
			}
			b = b[n:]
			m := v.SetEmptyMap()
			if err := forEachField1(kvl, func(kv []byte) error { return decodeKeyValue(kv, m) }); err != nil {
				return err
			}
		default:
			n := protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return errBadAnyValue
			}
			b = b[n:]
		}
	}
	return nil
}

func decodeKeyValue(b []byte, m pcommon.Map) error {
	var key string
	var val []byte
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return errBadAnyValue
		}
		b = b[n:]
		if typ != protowire.BytesType || (num != 1 && num != 2) {
			if n = protowire.ConsumeFieldValue(num, typ, b); n < 0 {
				return errBadAnyValue
			}
			b = b[n:]
			continue
		}
		x, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return errBadAnyValue
		}
		b = b[n:]
		if num == 1 {
			key = string(x)
		} else {
			val = x
		}
	}
	return decodeAnyValue(val, m.PutEmpty(key))
}

// forEachField1 calls fn with every length-delimited field 1 of the message
// b (the repeated values of ArrayValue and KeyValueList), skipping others.
func forEachField1(b []byte, fn func([]byte) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return errBadAnyValue
		}
		b = b[n:]
		if num != 1 || typ != protowire.BytesType {
			if n = protowire.ConsumeFieldValue(num, typ, b); n < 0 {
				return errBadAnyValue
			}
			b = b[n:]
			continue
		}
		e, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return errBadAnyValue
		}
		b = b[n:]
		if err := fn(e); err != nil {
			return err
		}
	}
	return nil
}
