package distribution

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"

	"github.com/drydock-dev/drydock/internal/registry/auth"
)

// ErrorCode is one error identifier of the distribution API with the HTTP
// status it is sent with and its default message.
type ErrorCode struct {
	Code    string
	Message string
	Status  int
}

// codes is the one table of error codes: code → status and message.
var codes = map[string]ErrorCode{}

func register(code string, status int, message string) ErrorCode {
	if _, dup := codes[code]; dup {
		panic("distribution: error code registered twice: " + code)
	}
	c := ErrorCode{Code: code, Message: message, Status: status}
	codes[code] = c
	return c
}

// The OCI Distribution 1.1 error codes, plus the few that
// distribution/distribution added and clients know.
var (
	ErrBlobUnknown         = register("BLOB_UNKNOWN", http.StatusNotFound, "blob unknown to registry")
	ErrBlobUploadInvalid   = register("BLOB_UPLOAD_INVALID", http.StatusBadRequest, "blob upload invalid")
	ErrBlobUploadUnknown   = register("BLOB_UPLOAD_UNKNOWN", http.StatusNotFound, "blob upload unknown to registry (completed, cancelled, expired, or started on a registry that does not share this one's storage): start the upload again with POST /v2/<name>/blobs/uploads/")
	ErrDigestInvalid       = register("DIGEST_INVALID", http.StatusBadRequest, "provided digest did not match uploaded content")
	ErrManifestBlobUnknown = register("MANIFEST_BLOB_UNKNOWN", http.StatusBadRequest, "manifest references a manifest or blob unknown to registry")
	ErrManifestInvalid     = register("MANIFEST_INVALID", http.StatusBadRequest, "manifest invalid")
	ErrManifestUnknown     = register("MANIFEST_UNKNOWN", http.StatusNotFound, "manifest unknown to registry")
	ErrNameInvalid         = register("NAME_INVALID", http.StatusBadRequest, "invalid repository name")
	ErrNameUnknown         = register("NAME_UNKNOWN", http.StatusNotFound, "repository name not known to registry")
	ErrSizeInvalid         = register("SIZE_INVALID", http.StatusBadRequest, "provided length did not match content length")
	ErrUnauthorized        = register("UNAUTHORIZED", http.StatusUnauthorized, "authentication required")
	ErrDenied              = register("DENIED", http.StatusForbidden, "requested access to the resource is denied")
	ErrUnsupported         = register("UNSUPPORTED", http.StatusMethodNotAllowed, "the operation is unsupported")
	ErrTooManyRequests     = register("TOOMANYREQUESTS", http.StatusTooManyRequests, "too many requests")

	ErrRangeInvalid      = register("RANGE_INVALID", http.StatusRequestedRangeNotSatisfiable, "invalid content range")
	ErrTagInvalid        = register("TAG_INVALID", http.StatusBadRequest, "invalid tag")
	ErrPaginationInvalid = register("PAGINATION_NUMBER_INVALID", http.StatusBadRequest, "invalid number of results requested")
	ErrNotFound          = register("NOT_FOUND", http.StatusNotFound, "the requested resource is not part of the distribution API")
	ErrUnknown           = register("UNKNOWN", http.StatusInternalServerError, "unknown error")
)

// Error is an ErrorCode with a particular message, detail or status.
type Error struct {
	ErrorCode
	Detail any
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// WithDetail returns the code with a detail object.
func (c ErrorCode) WithDetail(detail any) *Error { return &Error{ErrorCode: c, Detail: detail} }

// WithMessage returns the code with its message replaced.
func (c ErrorCode) WithMessage(format string, args ...any) *Error {
	e := &Error{ErrorCode: c}
	e.Message = fmt.Sprintf(format, args...)
	return e
}

// WithStatus returns the error sent with another HTTP status (the manifest
// size limit is MANIFEST_INVALID with 413).
func (e *Error) WithStatus(status int) *Error {
	c := *e
	c.Status = status
	return &c
}

// WithDetail adds a detail object.
func (e *Error) WithDetail(detail any) *Error {
	c := *e
	c.Detail = detail
	return &c
}

// WriteError sends the OCI error envelope. A HEAD response carries the
// status and headers only.
func WriteError(w http.ResponseWriter, r *http.Request, e *Error) {
	body, _ := json.Marshal(auth.OCIErrors{Errors: []auth.OCIError{{Code: e.Code, Message: e.Message, Detail: e.Detail}}})
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Del("Docker-Content-Digest")
	h.Del("Etag")
	w.WriteHeader(e.Status)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
}

func codeError(c ErrorCode) *Error { return &Error{ErrorCode: c} }
