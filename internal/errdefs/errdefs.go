// Package errdefs is drydock's one vocabulary of error kinds. The domain
// (store, directory, access, registry, clusters) says what went wrong with
// a kind — not found, already exists, conflict, invalid, forbidden,
// throttled, … — and, when its wire code and wording are known, an *Error
// carrying them. Each edge maps kinds exactly once: the ARM envelope, OCI's
// error codes, Graph's envelope, the OAuth2 error, the CLI's one line. On
// the way back, clients turn a response's status into the same kinds, so
// errors.Is(err, errdefs.ErrNotFound) reads the same on both sides of the
// wire.
package errdefs

import (
	"errors"
	"fmt"
	"net/http"
)

// The kinds. Compare with errors.Is, or with the Is* helpers.
var (
	ErrNotFound         = errors.New("not found")
	ErrAlreadyExists    = errors.New("already exists")
	ErrConflict         = errors.New("conflict")
	ErrInvalidArgument  = errors.New("invalid argument")
	ErrUnauthenticated  = errors.New("unauthenticated")
	ErrPermissionDenied = errors.New("permission denied")
	ErrThrottled        = errors.New("throttled")
	ErrUnavailable      = errors.New("unavailable")
	ErrStorageFull      = errors.New("insufficient storage")
	ErrTooLarge         = errors.New("too large")
	ErrTimeout          = errors.New("timeout")
	ErrNotImplemented   = errors.New("not implemented")
	ErrInternal         = errors.New("internal error")
)

// ErrMethodNotAllowed is a request whose method the target does not serve
// (ARM's MethodNotAllowed, OCI's UNSUPPORTED). It is also an
// ErrInvalidArgument: errors.Is sees both.
var ErrMethodNotAllowed error = &narrowKind{"method not allowed", ErrInvalidArgument}

// narrowKind is a kind that is also a wider one.
type narrowKind struct {
	msg   string
	wider error
}

func (k *narrowKind) Error() string        { return k.msg }
func (k *narrowKind) Is(target error) bool { return target == k.wider }

// kinds pairs each kind with the HTTP status every edge answers it with.
// Order matters only for KindOf when an error wraps several kinds.
var kinds = []struct {
	kind   error
	status int
}{
	{ErrNotFound, http.StatusNotFound},
	{ErrAlreadyExists, http.StatusConflict},
	{ErrConflict, http.StatusConflict},
	{ErrMethodNotAllowed, http.StatusMethodNotAllowed},
	{ErrInvalidArgument, http.StatusBadRequest},
	{ErrUnauthenticated, http.StatusUnauthorized},
	{ErrPermissionDenied, http.StatusForbidden},
	{ErrThrottled, http.StatusTooManyRequests},
	{ErrUnavailable, http.StatusServiceUnavailable},
	{ErrStorageFull, http.StatusInsufficientStorage},
	{ErrTooLarge, http.StatusRequestEntityTooLarge},
	{ErrTimeout, http.StatusRequestTimeout},
	{ErrNotImplemented, http.StatusNotImplemented},
	{ErrInternal, http.StatusInternalServerError},
}

// Error is an error of one kind with the code and message an edge shows:
// an ARM code such as "ResourceGroupNotFound", an OCI code such as
// "MANIFEST_UNKNOWN", or an AADSTS description. Edges that have no code of
// their own for it derive one from the kind.
type Error struct {
	Kind    error  // one of the Err* kinds
	Code    string // the wire code, when the domain knows it
	Message string // the whole message, as the user reads it
	Cause   error  // what it wraps, if anything
}

// New returns an *Error of kind with code and a formatted message.
func New(kind error, code, format string, args ...any) *Error {
	return &Error{Kind: kind, Code: code, Message: fmt.Sprintf(format, args...)}
}

// Wrap returns an *Error of kind with code and message whose cause is err.
func Wrap(err, kind error, code, message string) *Error {
	return &Error{Kind: kind, Code: code, Message: message, Cause: err}
}

func (e *Error) Error() string {
	switch {
	case e.Message != "":
		return e.Message
	case e.Cause != nil:
		return e.Cause.Error()
	case e.Kind != nil:
		return e.Kind.Error()
	}
	return "unknown error"
}

// Unwrap makes errors.Is see both the kind and the cause.
func (e *Error) Unwrap() []error {
	var errs []error
	if e.Kind != nil {
		errs = append(errs, e.Kind)
	}
	if e.Cause != nil {
		errs = append(errs, e.Cause)
	}
	return errs
}

// KindOf returns the kind of err: the Kind of its outermost *Error when it
// has one (so that an *Error of one kind wrapping a cause of another reads
// as its own), else the first kind errors.Is finds in it; ErrInternal when
// it has none, nil for a nil error.
func KindOf(err error) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) && e.Kind != nil {
		err = e.Kind
	}
	for _, k := range kinds {
		if errors.Is(err, k.kind) {
			return k.kind
		}
	}
	return ErrInternal
}

// CodeOf returns the wire code carried by err's outermost *Error, or "".
func CodeOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// MessageOf is what an edge tells the user of err: the message of its
// outermost *Error (without the context wrapped around it on the way
// out), else err's own text.
func MessageOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Error()
	}
	return err.Error()
}

// HTTPStatus is the status every HTTP edge answers err with.
func HTTPStatus(err error) int {
	k := KindOf(err)
	for _, e := range kinds {
		if e.kind == k {
			return e.status
		}
	}
	return http.StatusInternalServerError
}

// FromHTTPStatus is the kind of an error response with status, for
// clients; ErrInternal for statuses no kind answers with. 409 reads as
// ErrConflict.
func FromHTTPStatus(status int) error {
	if status == http.StatusConflict {
		return ErrConflict
	}
	for _, e := range kinds {
		if e.status == status {
			return e.kind
		}
	}
	switch {
	case status == http.StatusUnprocessableEntity || status == http.StatusRequestedRangeNotSatisfiable:
		return ErrInvalidArgument
	case status == http.StatusBadGateway || status == http.StatusGatewayTimeout:
		return ErrUnavailable
	case status == http.StatusPreconditionFailed:
		return ErrConflict
	}
	return ErrInternal
}

// IsNotFound reports whether err is of kind ErrNotFound.
func IsNotFound(err error) bool { return errors.Is(err, ErrNotFound) }

// IsAlreadyExists reports whether err is of kind ErrAlreadyExists.
func IsAlreadyExists(err error) bool { return errors.Is(err, ErrAlreadyExists) }

// IsConflict reports whether err is of kind ErrConflict or ErrAlreadyExists.
func IsConflict(err error) bool {
	return errors.Is(err, ErrConflict) || errors.Is(err, ErrAlreadyExists)
}

// IsInvalidArgument reports whether err is of kind ErrInvalidArgument.
func IsInvalidArgument(err error) bool { return errors.Is(err, ErrInvalidArgument) }

// IsPermissionDenied reports whether err is of kind ErrPermissionDenied.
func IsPermissionDenied(err error) bool { return errors.Is(err, ErrPermissionDenied) }

// IsThrottled reports whether err is of kind ErrThrottled.
func IsThrottled(err error) bool { return errors.Is(err, ErrThrottled) }
