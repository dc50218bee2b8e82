// Package slogkit adapts pace's log/slog logger to the go-kit logger that
// grafana/dskit and thanos-io/objstore take.
package slogkit

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/go-kit/log"
)

type adapter struct{ l *slog.Logger }

// New returns a go-kit logger writing to l. go-kit's level key picks the slog level.
func New(l *slog.Logger) log.Logger { return adapter{l} }

func (a adapter) Log(kv ...any) error {
	if a.l == nil {
		return nil
	}
	msg, lvl := "", slog.LevelDebug
	attrs := make([]any, 0, len(kv))
	for i := 0; i+1 < len(kv); i += 2 {
		k := fmt.Sprint(kv[i])
		switch k {
		case "msg":
			msg = fmt.Sprint(kv[i+1])
		case "level":
			switch fmt.Sprint(kv[i+1]) {
			case "error":
				lvl = slog.LevelError
			case "warn":
				lvl = slog.LevelWarn
			case "info":
				lvl = slog.LevelInfo
			}
		default:
			attrs = append(attrs, k, kv[i+1])
		}
	}
	a.l.Log(context.Background(), lvl, msg, attrs...)
	return nil
}
