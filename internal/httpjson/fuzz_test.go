package httpjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"testing"
)

// FuzzDecode feeds Decode arbitrary request bodies, as every JSON edge
// (ARM, Graph) does: it accepts only valid JSON documents of at most
// MaxBody bytes, refuses the others with an error that BodyFailure does not
// take for a size or timeout failure (valid JSON fails only for a number
// out of range), and never panics, whatever the
// target type.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"location":"eastus","tags":{"a":"b"},"properties":{"adminUserEnabled":true},"sku":{"name":"Basic"}}`))
	f.Add([]byte(`[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]`))
	f.Add([]byte(`{"location":1e999}`))
	f.Add([]byte(`{"a":"\ud800"}`))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, body []byte) {
		var v any
		err := Decode(httptest.NewRequest("PUT", "/", bytes.NewReader(body)), &v, true)
		switch {
		case len(body) == 0 || len(body) > MaxBody:
			if err == nil {
				t.Fatalf("accepted a body of %d bytes", len(body))
			}
		case err == nil && !json.Valid(body):
			t.Fatalf("accepted invalid JSON")
		case err != nil && json.Valid(body) && !errors.As(err, new(*json.UnmarshalTypeError)):
			// Valid JSON fails only for a number out of float64's range.
			t.Fatalf("refused valid JSON: %v", err)
		}
		if status, _ := BodyFailure(err); err != nil && status != 0 && !errors.Is(err, ErrTooLarge) {
			t.Fatalf("%v taken for a body the client failed to send (%d)", err, status)
		}
		var typed struct {
			Location   string            `json:"location"`
			Tags       map[string]string `json:"tags"`
			Properties map[string]any    `json:"properties"`
			Sku        *struct {
				Name string `json:"name"`
			} `json:"sku"`
		}
		_ = Decode(httptest.NewRequest("PUT", "/", bytes.NewReader(body)), &typed, false)
	})
}
