// Package httpjson holds the JSON chores every HTTP edge of drydock shares:
// writing a value with a status, decoding a bounded request body strictly,
// and telling a body the client failed to send from other errors.
package httpjson

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
)

// MaxBody is the largest JSON request body accepted (ARM allows 4 MiB).
const MaxBody = 4 << 20

// ErrTooLarge is Decode's error for a body of more than MaxBody bytes.
var ErrTooLarge = errors.New("the request body is larger than 4 MiB")

// Write encodes v as the response body with the given status.
func Write(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	if v == nil {
		return
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// Decode reads at most MaxBody bytes of JSON into v. An empty body is an
// error only when required is true.
func Decode(r *http.Request, v any, required bool) error {
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBody+1))
	if err != nil {
		return fmt.Errorf("reading the request body: %w", err)
	}
	if len(body) > MaxBody {
		return ErrTooLarge
	}
	if len(body) == 0 {
		if required {
			return errors.New("the request body is empty")
		}
		return nil
	}
	if err := json.Unmarshal(body, v); err != nil {
		return err
	}
	return nil
}

// BodyFailure tells a request body the client failed to send from other
// errors: 413 for one over its limit (Decode's, or an http.MaxBytesReader's
// while parsing a form), 408 for one that stalled (the server's body
// timeout: the read failed with os.ErrDeadlineExceeded), each with a
// sentence; status 0 for any other error.
func BodyFailure(err error) (status int, msg string) {
	var tooLarge *http.MaxBytesError
	switch {
	case errors.Is(err, ErrTooLarge):
		return http.StatusRequestEntityTooLarge, ErrTooLarge.Error()
	case errors.As(err, &tooLarge):
		return http.StatusRequestEntityTooLarge, fmt.Sprintf("the request body is larger than %s", size(tooLarge.Limit))
	case errors.Is(err, os.ErrDeadlineExceeded):
		return http.StatusRequestTimeout, "the request body did not arrive in time"
	}
	return 0, ""
}

func size(n int64) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}
