package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/drydock-dev/drydock/internal/errdefs"
)

// APIError is an error answered by the ARM or Graph API, whose bodies share
// the shape {"error":{"code":"...","message":"..."}}.
type APIError struct {
	// Status is the HTTP status of the response carrying the error (200 for
	// a long-running operation that ended Failed or Canceled).
	Status  int
	Code    string
	Message string
}

// Error formats the error as az prints it after "ERROR: ".
func (e *APIError) Error() string { return fmt.Sprintf("(%s) %s", e.Code, e.Message) }

// Unwrap is the error's kind, from its status (none for a long-running
// operation that ended Failed or Canceled), so that callers test it with
// errdefs.IsNotFound and the like.
func (e *APIError) Unwrap() error {
	if e.Status < 400 {
		return nil
	}
	return errdefs.FromHTTPStatus(e.Status)
}

// OAuthError is an error answered by the token endpoint, whose body is
// {"error":"invalid_grant","error_description":"AADSTS50126: ..."}.
type OAuthError struct {
	Status      int
	Code        string
	Description string
}

// Error returns the error description, as az surfaces it.
func (e *OAuthError) Error() string {
	if e.Description != "" {
		return e.Description
	}
	return e.Code
}

// HasCode reports whether err is an API error with the given code
// (compared without regard to case).
func HasCode(err error, code string) bool {
	var ae *APIError
	return errors.As(err, &ae) && strings.EqualFold(ae.Code, code)
}

type errorBody struct {
	Error *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
	// Some services answer {"code":..,"message":..} without the wrapper.
	Code    string `json:"code"`
	Message string `json:"message"`
}

// DecodeAPIError turns an ARM or Graph error response into an *APIError.
// Bodies that are not in the standard shape still yield an APIError whose
// code is derived from the status.
func DecodeAPIError(status int, body []byte) *APIError {
	e := &APIError{Status: status}
	var eb errorBody
	if json.Unmarshal(body, &eb) == nil {
		if eb.Error != nil {
			e.Code, e.Message = eb.Error.Code, eb.Error.Message
		} else {
			e.Code, e.Message = eb.Code, eb.Message
		}
	}
	if e.Code == "" {
		e.Code = strings.ReplaceAll(http.StatusText(status), " ", "")
		if e.Code == "" {
			e.Code = fmt.Sprintf("HTTP%d", status)
		}
	}
	if e.Message == "" {
		if text := strings.TrimSpace(string(body)); text != "" && len(text) < 512 && !strings.HasPrefix(text, "{") {
			e.Message = text
		} else {
			e.Message = fmt.Sprintf("Operation returned an invalid status '%s'", http.StatusText(status))
		}
	}
	return e
}

// DecodeOAuthError turns a token endpoint error response into an
// *OAuthError.
func DecodeOAuthError(status int, body []byte) *OAuthError {
	var ob struct {
		Error       json.RawMessage `json:"error"`
		Description string          `json:"error_description"`
	}
	e := &OAuthError{Status: status}
	if json.Unmarshal(body, &ob) == nil {
		var code string
		if json.Unmarshal(ob.Error, &code) == nil {
			e.Code = code
		} else if api := DecodeAPIError(status, body); api.Code != "" {
			// An ARM-shaped error from a misrouted request.
			e.Code, e.Description = api.Code, api.Message
		}
		if ob.Description != "" {
			e.Description = ob.Description
		}
	}
	if e.Code == "" && e.Description == "" {
		e.Code = "invalid_request"
		e.Description = fmt.Sprintf("token request failed with status %d %s", status, http.StatusText(status))
	}
	return e
}
