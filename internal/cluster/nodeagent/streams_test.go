package nodeagent

import (
	"testing"
	"time"
)

func TestParseCRILog(t *testing.T) {
	for _, tc := range []struct {
		line string
		ok   bool
		msg  string
		ts   time.Time
	}{
		{"2026-11-27T04:02:30.183456789Z stdout F listening on :80\n", true, "listening on :80\n", time.Date(2026, 11, 27, 4, 2, 30, 183456789, time.UTC)},
		{"2026-11-27T04:02:30Z stderr P partial\n", true, "partial", time.Date(2026, 11, 27, 4, 2, 30, 0, time.UTC)},
		{"2026-11-27T04:02:30Z stdout F \n", true, "\n", time.Date(2026, 11, 27, 4, 2, 30, 0, time.UTC)},
		{"garbage\n", false, "", time.Time{}},
		{"not-a-time stdout F x\n", false, "", time.Time{}},
		{"", false, "", time.Time{}},
	} {
		ts, msg, ok := parseCRILog([]byte(tc.line))
		if ok != tc.ok || string(msg) != tc.msg || !ts.Equal(tc.ts) {
			t.Errorf("parseCRILog(%q) = %v, %q, %v; want %v, %q, %v", tc.line, ts, msg, ok, tc.ts, tc.msg, tc.ok)
		}
	}
}

func FuzzParseCRILog(f *testing.F) {
	f.Add([]byte("2026-11-27T04:02:30.183456789Z stdout F hello\n"))
	f.Add([]byte("2026-11-27T04:02:30Z stderr P part"))
	f.Add([]byte(" "))
	f.Fuzz(func(t *testing.T, line []byte) {
		_, msg, ok := parseCRILog(line)
		if ok && len(msg) > len(line) {
			t.Fatalf("message longer than the line")
		}
	})
}
