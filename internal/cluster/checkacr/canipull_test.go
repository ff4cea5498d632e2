package checkacr

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"
)

func TestParseCanipullArgs(t *testing.T) {
	for _, tc := range []struct {
		name   string
		args   []string
		config string
		acrs   []string
		help   bool
		err    string
	}{
		{"az's", []string{"-v6", "myacr.azurecr.io"}, "", []string{"myacr.azurecr.io"}, false, ""},
		{"separate level", []string{"-v", "6", "myacr.azurecr.io:5443"}, "", []string{"myacr.azurecr.io:5443"}, false, ""},
		{"level with =", []string{"-v=9", "myacr.azurecr.io"}, "", []string{"myacr.azurecr.io"}, false, ""},
		{"long level", []string{"--verbose=2", "--verbose", "4", "myacr.azurecr.io"}, "", []string{"myacr.azurecr.io"}, false, ""},
		{"config", []string{"--config", "/x/azure.json", "myacr.azurecr.io"}, "/x/azure.json", []string{"myacr.azurecr.io"}, false, ""},
		{"config with =", []string{"myacr.azurecr.io", "--config=/y.json"}, "/y.json", []string{"myacr.azurecr.io"}, false, ""},
		{"dashdash", []string{"--", "-odd"}, "", []string{"-odd"}, false, ""},
		{"none", nil, "", nil, false, ""},
		{"two", []string{"a.azurecr.io", "b.azurecr.io"}, "", []string{"a.azurecr.io", "b.azurecr.io"}, false, ""},
		{"help", []string{"-h"}, "", nil, true, ""},
		{"long help", []string{"--help", "x"}, "", []string{"x"}, true, ""},
		{"unknown flag", []string{"-x", "myacr.azurecr.io"}, "", nil, false, "unknown flag: -x"},
		{"single-dash long name", []string{"-config", "a"}, "", nil, false, "unknown flag: -config"},
		{"level not a number", []string{"-vv", "myacr.azurecr.io"}, "", nil, false, `invalid argument "v" for -vv`},
		{"missing value", []string{"myacr.azurecr.io", "--config"}, "", nil, false, "flag needs an argument: --config"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := parseCanipullArgs(tc.args)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Errorf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || a.config != tc.config || strings.Join(a.acrs, " ") != strings.Join(tc.acrs, " ") || a.help != tc.help {
				t.Errorf("%+v, %v; want config %q, acrs %q, help %v", a, err, tc.config, tc.acrs, tc.help)
			}
		})
	}
}

// canipull waits for kubectl's attach before the first line: until its
// input ends, for at most attachWait; with a terminal, terminalWait; and
// never past its context.
func TestWaitForAttach(t *testing.T) {
	oldAttach, oldTerminal := attachWait, terminalWait
	attachWait, terminalWait = 1500*time.Millisecond, 700*time.Millisecond
	t.Cleanup(func() { attachWait, terminalWait = oldAttach, oldTerminal })
	for _, tc := range []struct {
		name     string
		stdin    func(t *testing.T) io.Reader
		terminal bool
		cancel   bool
		min, max time.Duration
	}{
		{"no stdin", func(*testing.T) io.Reader { return strings.NewReader("") }, false, false, 0, time.Second},
		{"input ends at once (az without a terminal)", func(*testing.T) io.Reader {
			r, w := io.Pipe()
			go func() { w.Write([]byte("x")); time.Sleep(300 * time.Millisecond); w.Close() }()
			return r
		}, false, false, 300 * time.Millisecond, 1200 * time.Millisecond},
		{"input never ends", func(*testing.T) io.Reader { r, _ := io.Pipe(); return r }, false, false, 1500 * time.Millisecond, 3 * time.Second},
		{"terminal", func(*testing.T) io.Reader { r, _ := io.Pipe(); return r }, true, false, 700 * time.Millisecond, 1400 * time.Millisecond},
		{"cancelled", func(*testing.T) io.Reader { r, _ := io.Pipe(); return r }, false, true, 0, 500 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			if tc.cancel {
				cancel()
			}
			start := time.Now()
			waitForAttach(ctx, tc.stdin(t), tc.terminal)
			if took := time.Since(start); took < tc.min || took > tc.max {
				t.Errorf("waited %s, want %s to %s", took, tc.min, tc.max)
			}
		})
	}
}
