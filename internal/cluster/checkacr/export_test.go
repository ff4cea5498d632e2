package checkacr

import "time"

// Canipull is canipull for the external tests.
var Canipull = canipull

// FixClock makes the log lines' clock stand at t.
func FixClock(t time.Time) { now = func() time.Time { return t } }
