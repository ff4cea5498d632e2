// Package httpjson holds the two JSON chores every HTTP edge of drydock
// shares: writing a value with a status, and decoding a bounded request body
// strictly.
package httpjson

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// MaxBody is the largest JSON request body accepted (ARM allows 4 MiB).
const MaxBody = 4 << 20

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
		return errors.New("the request body is larger than 4 MiB")
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
