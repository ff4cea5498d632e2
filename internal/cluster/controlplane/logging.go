package controlplane

import (
	"flag"
	"fmt"
	"io"
	"os"
	"sync/atomic"

	"github.com/sirupsen/logrus"
	"k8s.io/klog/v2"
)

// running is set by the first Run: Kubernetes' globals allow one control
// plane per process.
var running atomic.Bool

// logFile is where the components' logs go.
type logFile struct{ f *os.File }

// setupLogging configures klog (the components) and logrus (kine) once for
// the process: everything into path, errors also to stderr.
func setupLogging(path string) (*logFile, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	fs := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(fs)
	for k, v := range map[string]string{
		"logtostderr":       "false",
		"alsologtostderr":   "false",
		"stderrthreshold":   "ERROR",
		"log_file":          path,
		"log_file_max_size": "100",
		"one_output":        "true",
		"skip_log_headers":  "true",
		"v":                 "0",
	} {
		if err := fs.Set(k, v); err != nil {
			f.Close()
			return nil, fmt.Errorf("configuring klog: %s: %w", k, err)
		}
	}
	logrus.SetOutput(f)
	logrus.SetLevel(logrus.InfoLevel)
	logrus.AddHook(stderrHook{})
	return &logFile{f: f}, nil
}

func (l *logFile) close() {
	klog.Flush()
	l.f.Close()
}

// logError logs err through klog (so to the log file and stderr).
func logError(err error, msg string) {
	klog.ErrorS(err, msg)
	klog.Flush()
}

// stderrHook copies kine's errors to stderr.
type stderrHook struct{}

func (stderrHook) Levels() []logrus.Level {
	return []logrus.Level{logrus.PanicLevel, logrus.FatalLevel, logrus.ErrorLevel}
}

func (stderrHook) Fire(e *logrus.Entry) error {
	line, err := e.String()
	if err != nil {
		return err
	}
	_, err = io.WriteString(os.Stderr, "kine: "+line)
	return err
}
