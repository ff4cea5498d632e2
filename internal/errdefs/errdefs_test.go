package errdefs

import (
	"errors"
	"fmt"
	"net/http"
	"testing"
)

func TestKindOf(t *testing.T) {
	cause := errors.New("disk on fire")
	tests := []struct {
		name   string
		err    error
		kind   error
		status int
		code   string
		msg    string
	}{
		{"nil", nil, nil, http.StatusInternalServerError, "", ""},
		{"plain", cause, ErrInternal, http.StatusInternalServerError, "", "disk on fire"},
		{"bare kind", ErrNotFound, ErrNotFound, http.StatusNotFound, "", "not found"},
		{"wrapped kind", fmt.Errorf("registry r: %w", ErrAlreadyExists), ErrAlreadyExists, http.StatusConflict, "", "registry r: already exists"},
		{"error", New(ErrNotFound, "ResourceGroupNotFound", "Resource group '%s' could not be found.", "g"),
			ErrNotFound, http.StatusNotFound, "ResourceGroupNotFound", "Resource group 'g' could not be found."},
		{"error wrapped", fmt.Errorf("put: %w", New(ErrThrottled, "TOOMANYREQUESTS", "slow down")),
			ErrThrottled, http.StatusTooManyRequests, "TOOMANYREQUESTS", "put: slow down"},
		{"cause kept", Wrap(cause, ErrStorageFull, "", "the disk is full"), ErrStorageFull, http.StatusInsufficientStorage, "", "the disk is full"},
		{"own kind over its cause's", Wrap(ErrNotFound, ErrInvalidArgument, "BadThing", "bad"), ErrInvalidArgument, http.StatusBadRequest, "BadThing", "bad"},
		{"no message", &Error{Kind: ErrPermissionDenied}, ErrPermissionDenied, http.StatusForbidden, "", "permission denied"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := KindOf(tt.err); got != tt.kind {
				t.Errorf("KindOf = %v, want %v", got, tt.kind)
			}
			if tt.err == nil {
				return
			}
			if got := HTTPStatus(tt.err); got != tt.status {
				t.Errorf("HTTPStatus = %d, want %d", got, tt.status)
			}
			if got := CodeOf(tt.err); got != tt.code {
				t.Errorf("CodeOf = %q, want %q", got, tt.code)
			}
			if got := tt.err.Error(); got != tt.msg {
				t.Errorf("Error() = %q, want %q", got, tt.msg)
			}
		})
	}
	if got := MessageOf(fmt.Errorf("saving: %w", New(ErrNotFound, "", "no such thing"))); got != "no such thing" {
		t.Errorf("MessageOf = %q", got)
	}
	if got := MessageOf(cause); got != "disk on fire" {
		t.Errorf("MessageOf = %q", got)
	}
	if !errors.Is(Wrap(cause, ErrStorageFull, "", "x"), cause) {
		t.Error("Wrap lost its cause")
	}
}

func TestFromHTTPStatus(t *testing.T) {
	tests := []struct {
		status int
		kind   error
	}{
		{404, ErrNotFound}, {409, ErrConflict}, {400, ErrInvalidArgument}, {401, ErrUnauthenticated},
		{403, ErrPermissionDenied}, {429, ErrThrottled}, {503, ErrUnavailable}, {507, ErrStorageFull},
		{413, ErrTooLarge}, {408, ErrTimeout}, {501, ErrNotImplemented}, {500, ErrInternal},
		{405, ErrMethodNotAllowed}, {416, ErrInvalidArgument}, {502, ErrUnavailable}, {412, ErrConflict}, {418, ErrInternal},
	}
	if !IsInvalidArgument(ErrMethodNotAllowed) || KindOf(fmt.Errorf("x: %w", ErrMethodNotAllowed)) != ErrMethodNotAllowed {
		t.Error("ErrMethodNotAllowed is not the narrower ErrInvalidArgument")
	}
	for _, tt := range tests {
		if got := FromHTTPStatus(tt.status); got != tt.kind {
			t.Errorf("FromHTTPStatus(%d) = %v, want %v", tt.status, got, tt.kind)
		}
	}
	// Every kind survives the round trip through its status, but
	// ErrAlreadyExists, which reads back as the wider ErrConflict.
	for _, k := range kinds {
		got := FromHTTPStatus(HTTPStatus(k.kind))
		if got != k.kind && !(k.kind == ErrAlreadyExists && got == ErrConflict) {
			t.Errorf("%v -> %d -> %v", k.kind, HTTPStatus(k.kind), got)
		}
	}
}
