// Package cfgload reads a configuration the way every pace command does:
// flag defaults, then a YAML file (unknown keys are errors), then the
// flags given on the command line, then validation.
package cfgload

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"gopkg.in/yaml.v3"
)

// Config is a configuration tree with its flags and its checks.
type Config interface {
	RegisterFlags(f *flag.FlagSet)
	Validate() error
}

// Load fills cfg from args (with -config.file F) and validates it.
func Load(name string, args []string, cfg Config) error {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	var file string
	var expand bool
	fs.StringVar(&file, "config.file", "", "YAML configuration file.")
	fs.BoolVar(&expand, "config.expand-env", false, "Replace ${VAR} and $VAR in the file with environment variables (e.g. S3 keys from a Kubernetes Secret).")
	cfg.RegisterFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return err
		}
		if expand {
			b = []byte(os.ExpandEnv(string(b)))
		}
		if err := Decode(b, cfg); err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
		// Flags given on the command line win over the file.
		if err := fs.Parse(args); err != nil {
			return err
		}
	}
	return cfg.Validate()
}

// Parse fills cfg from YAML text over the flag defaults and validates it.
func Parse(text []byte, cfg Config) error {
	cfg.RegisterFlags(flag.NewFlagSet("pace", flag.ContinueOnError))
	if err := Decode(text, cfg); err != nil {
		return err
	}
	return cfg.Validate()
}

// Decode reads YAML into cfg, refusing unknown keys: a misspelt setting is
// an error, not a silently ignored line.
func Decode(b []byte, cfg any) error {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}
