// Package arm is drydock's resource manager front door: it authenticates
// callers, parses ARM request paths into resource IDs, checks api-version,
// subscriptions and resource groups, dispatches to resource providers,
// runs long-running operations, and writes ARM's error envelope. Providers
// (registries, identities, authorization, ...) plug in with Handle.
package arm

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/drydock-dev/drydock/internal/httpjson"
	"github.com/drydock-dev/drydock/internal/store"
)

// Error is an ARM error: HTTP status plus {"error":{"code","message"}}.
type Error struct {
	Status  int     `json:"-"`
	Code    string  `json:"code"`
	Message string  `json:"message"`
	Target  string  `json:"target,omitempty"`
	Details []Error `json:"details,omitempty"`
}

func (e *Error) Error() string { return fmt.Sprintf("(%s) %s", e.Code, e.Message) }

// Errorf builds an Error.
func Errorf(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// Common ARM errors, with Azure's codes and wording.
func NotFound(typ, name, group string) *Error {
	return Errorf(http.StatusNotFound, "ResourceNotFound",
		"The Resource '%s/%s' under resource group '%s' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix", typ, name, group)
}

func ResourceGroupNotFound(group string) *Error {
	return Errorf(http.StatusNotFound, "ResourceGroupNotFound", "Resource group '%s' could not be found.", group)
}

func SubscriptionNotFound(sub string) *Error {
	return Errorf(http.StatusNotFound, "SubscriptionNotFound", "The subscription '%s' could not be found.", sub)
}

func InvalidRequestContent(err error) *Error {
	return Errorf(http.StatusBadRequest, "InvalidRequestContent", "The request content was invalid and could not be deserialized: '%v'.", err)
}

func BadRequest(code, format string, args ...any) *Error {
	return Errorf(http.StatusBadRequest, code, format, args...)
}

// AuthorizationFailed is ARM's 403 for a caller without the action at scope.
func AuthorizationFailed(c Caller, action, scope string) *Error {
	return Errorf(http.StatusForbidden, "AuthorizationFailed",
		"The client '%s' with object id '%s' does not have authorization to perform action '%s' over scope '%s' or the scope is invalid. If access was recently granted, please refresh your credentials.",
		c.Name, c.ObjectID, action, scope)
}

// InsufficientStorage is the error of a change drydock could not save
// because the disk holding its data directory is full (store.DiskFull):
// 507, with a message that says so and what to do.
func InsufficientStorage(err error) *Error {
	return Errorf(http.StatusInsufficientStorage, "InsufficientStorage", "%s", store.DiskFullMessage(err))
}

// asError is err as an ARM error: itself when it is an *Error,
// InsufficientStorage when the disk is full, else 500 InternalServerError.
func asError(err error) *Error {
	var ae *Error
	switch {
	case errors.As(err, &ae):
		return ae
	case store.DiskFull(err):
		return InsufficientStorage(err)
	}
	return Errorf(http.StatusInternalServerError, "InternalServerError", "%v", err)
}

// WriteError writes err as an ARM error envelope (see asError).
func WriteError(w http.ResponseWriter, err error) {
	ae := asError(err)
	w.Header().Set("x-ms-failure-cause", "gateway")
	httpjson.Write(w, ae.Status, map[string]any{"error": ae})
}
