package directory

import (
	"net/http"

	"github.com/drydock-dev/drydock/internal/errdefs"
	"github.com/drydock-dev/drydock/internal/httpjson"
	"github.com/drydock-dev/drydock/internal/store"
)

// The directory's errors are errdefs errors: a missing object is
// errdefs.ErrNotFound, a duplicate errdefs.ErrAlreadyExists, a request it
// refuses errdefs.ErrInvalidArgument, a caller without the directory role
// errdefs.ErrPermissionDenied, wrong credentials errdefs.ErrUnauthenticated.
// The store's errors pass through as they are. graphErr maps them to
// Graph's envelope, once.

func notFound(format string, args ...any) error {
	return errdefs.New(errdefs.ErrNotFound, "", format, args...)
}

func exists(format string, args ...any) error {
	return errdefs.New(errdefs.ErrAlreadyExists, "", format, args...)
}

func invalid(format string, args ...any) error {
	return errdefs.New(errdefs.ErrInvalidArgument, "", format, args...)
}

// errInvalidCredentials is a sign-in with a wrong password or secret.
var errInvalidCredentials = errdefs.New(errdefs.ErrUnauthenticated, "", "invalid credentials")

func graphError(w http.ResponseWriter, status int, code, msg string) {
	httpjson.Write(w, status, map[string]any{"error": map[string]any{"code": code, "message": msg}})
}

// graphErr writes err as Graph's error envelope: a missing object is 404
// Request_ResourceNotFound, a duplicate or invalid request 400
// Request_BadRequest, a refusal 403 Authorization_RequestDenied, a full
// disk 507 InsufficientStorage (store.StorageFull classifies one met
// outside a transaction), anything else 500 InternalServerError.
func graphErr(w http.ResponseWriter, err error) {
	err = store.StorageFull(err)
	msg := errdefs.MessageOf(err)
	switch errdefs.KindOf(err) {
	case errdefs.ErrNotFound:
		graphError(w, http.StatusNotFound, "Request_ResourceNotFound", msg)
	case errdefs.ErrAlreadyExists, errdefs.ErrInvalidArgument, errdefs.ErrMethodNotAllowed:
		graphError(w, http.StatusBadRequest, "Request_BadRequest", msg)
	case errdefs.ErrPermissionDenied:
		graphError(w, http.StatusForbidden, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
	case errdefs.ErrStorageFull:
		graphError(w, http.StatusInsufficientStorage, "InsufficientStorage", msg)
	default:
		graphError(w, http.StatusInternalServerError, "InternalServerError", err.Error())
	}
}
