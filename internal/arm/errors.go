// Package arm is drydock's resource manager front door: it authenticates
// callers, parses ARM request paths into resource IDs, checks api-version,
// subscriptions and resource groups, dispatches to resource providers,
// runs long-running operations, and writes ARM's error envelope. Providers
// (registries, identities, authorization, ...) plug in with Handle; the
// provider kit (Tracked) serves the read, list and delete of a tracked
// resource type from a declaration and its hooks.
//
// Errors are internal/errdefs errors: the constructors here (Errorf,
// NotFound, AuthorizationFailed, ...) return an *errdefs.Error of the kind
// the status stands for, carrying ARM's code and wording; WriteError maps
// any error to ARM's envelope once, giving bare kinds ARM's default codes.
package arm

import (
	"net/http"

	"github.com/drydock-dev/drydock/internal/errdefs"
	"github.com/drydock-dev/drydock/internal/httpjson"
	"github.com/drydock-dev/drydock/internal/store"
)

// ErrorBody is the body of ARM's error envelope, {"code","message"}, and
// the error of a failed operation's status document.
type ErrorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Errorf is an ARM error: an *errdefs.Error of the kind status stands for
// (errdefs.FromHTTPStatus), with ARM's code and a formatted message.
func Errorf(status int, code, format string, args ...any) *errdefs.Error {
	return errdefs.New(errdefs.FromHTTPStatus(status), code, format, args...)
}

// NotFound is ARM's ResourceNotFound for a tracked resource.
func NotFound(typ, name, group string) *errdefs.Error {
	return Errorf(http.StatusNotFound, "ResourceNotFound",
		"The Resource '%s/%s' under resource group '%s' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix", typ, name, group)
}

// ResourceGroupNotFound is ARM's 404 for a missing resource group.
func ResourceGroupNotFound(group string) *errdefs.Error {
	return Errorf(http.StatusNotFound, "ResourceGroupNotFound", "Resource group '%s' could not be found.", group)
}

// SubscriptionNotFound is ARM's 404 for a missing subscription.
func SubscriptionNotFound(sub string) *errdefs.Error {
	return Errorf(http.StatusNotFound, "SubscriptionNotFound", "The subscription '%s' could not be found.", sub)
}

// InvalidRequestContent is ARM's 400 for a body that does not decode.
func InvalidRequestContent(err error) *errdefs.Error {
	return Errorf(http.StatusBadRequest, "InvalidRequestContent", "The request content was invalid and could not be deserialized: '%v'.", err)
}

// BadRequest is a 400 with code.
func BadRequest(code, format string, args ...any) *errdefs.Error {
	return Errorf(http.StatusBadRequest, code, format, args...)
}

// AuthorizationFailed is ARM's 403 for a caller without the action at scope.
func AuthorizationFailed(c Caller, action, scope string) *errdefs.Error {
	return Errorf(http.StatusForbidden, "AuthorizationFailed",
		"The client '%s' with object id '%s' does not have authorization to perform action '%s' over scope '%s' or the scope is invalid. If access was recently granted, please refresh your credentials.",
		c.Name, c.ObjectID, action, scope)
}

// defaultCodes are ARM's codes for errors whose kind is all they say.
var defaultCodes = map[error]string{
	errdefs.ErrNotFound:         "ResourceNotFound",
	errdefs.ErrAlreadyExists:    "Conflict",
	errdefs.ErrConflict:         "Conflict",
	errdefs.ErrMethodNotAllowed: "MethodNotAllowed",
	errdefs.ErrInvalidArgument:  "BadRequest",
	errdefs.ErrUnauthenticated:  "AuthenticationFailed",
	errdefs.ErrPermissionDenied: "AuthorizationFailed",
	errdefs.ErrThrottled:        "TooManyRequests",
	errdefs.ErrUnavailable:      "ServiceUnavailable",
	errdefs.ErrStorageFull:      "InsufficientStorage",
	errdefs.ErrTooLarge:         "RequestContentTooLarge",
	errdefs.ErrTimeout:          "RequestTimeout",
	errdefs.ErrNotImplemented:   "NotImplemented",
	errdefs.ErrInternal:         "InternalServerError",
}

// envelope maps err to ARM's status and error body, the one place ARM
// does: an *errdefs.Error with a Code answers with that code, its message
// and its kind's status; any other error answers with its kind's status
// and ARM's default code for the kind (InsufficientStorage for a full
// disk, 500 InternalServerError for an error of no kind). A full disk met
// by a file write rather than the store (an import's blobs) is classified
// here by store.StorageFull.
func envelope(err error) (int, ErrorBody) {
	err = store.StorageFull(err)
	kind := errdefs.KindOf(err)
	code := defaultCodes[kind]
	if c := errdefs.CodeOf(err); c != "" {
		code = c
	}
	return errdefs.HTTPStatus(kind), ErrorBody{Code: code, Message: errdefs.MessageOf(err)}
}

// WriteError writes err as an ARM error envelope (see envelope).
func WriteError(w http.ResponseWriter, err error) {
	status, body := envelope(err)
	w.Header().Set("x-ms-failure-cause", "gateway")
	httpjson.Write(w, status, map[string]any{"error": body})
}
