package client

import (
	"errors"
	"fmt"
	"testing"

	"github.com/drydock-dev/drydock/internal/errdefs"
)

func TestAPIErrorKinds(t *testing.T) {
	tests := []struct {
		status int
		body   string
		want   error
		line   string
	}{
		{404, `{"error":{"code":"ResourceNotFound","message":"gone"}}`, errdefs.ErrNotFound, "(ResourceNotFound) gone"},
		{409, `{"error":{"code":"RoleAssignmentExists","message":"dup"}}`, errdefs.ErrConflict, "(RoleAssignmentExists) dup"},
		{403, `{"code":"AuthorizationFailed","message":"no"}`, errdefs.ErrPermissionDenied, "(AuthorizationFailed) no"},
		{400, ``, errdefs.ErrInvalidArgument, "(BadRequest) Operation returned an invalid status 'Bad Request'"},
		{429, `slow down`, errdefs.ErrThrottled, "(TooManyRequests) slow down"},
		{200, ``, nil, "(OK) Operation returned an invalid status 'OK'"},
	}
	for _, tt := range tests {
		err := fmt.Errorf("wrapped: %w", DecodeAPIError(tt.status, []byte(tt.body)))
		if tt.want != nil && !errors.Is(err, tt.want) {
			t.Errorf("%d: %v is not %v", tt.status, err, tt.want)
		}
		if tt.want == nil && errdefs.KindOf(err) != errdefs.ErrInternal {
			t.Errorf("%d: kind %v", tt.status, errdefs.KindOf(err))
		}
		var ae *APIError
		if !errors.As(err, &ae) || ae.Error() != tt.line {
			t.Errorf("%d: line %q, want %q", tt.status, ae.Error(), tt.line)
		}
	}
}
