package client

import (
	"context"
	"errors"
	"net/http"
	"net/url"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
)

// SDK is what the Azure SDK for Go's ARM clients (armresources,
// armcontainerregistry, armmsi, ...) need to talk to this client's drydock:
// the subscription, the client's ARM token as a credential, and options
// that point Resource Manager at the endpoint, send the requests through
// the client's HTTP transport (so --debug logs them), pin the api-version
// the CLI uses, and leave retries and provider registration to the caller.
type SDK struct {
	Sub     string
	Cred    azcore.TokenCredential
	Options *arm.ClientOptions
}

// SDK returns the SDK settings for a subscription and api-version.
func (c *Client) SDK(sub, apiVersion string) SDK {
	return SDK{Sub: sub, Cred: sdkCredential{c}, Options: &arm.ClientOptions{
		ClientOptions: policy.ClientOptions{
			Cloud: cloud.Configuration{Services: map[cloud.ServiceName]cloud.ServiceConfiguration{
				cloud.ResourceManager: {Endpoint: c.Endpoint, Audience: ARMAudience},
			}},
			Transport:  c.HTTP,
			Retry:      policy.RetryOptions{MaxRetries: -1},
			APIVersion: apiVersion,
		},
		DisableRPRegistration: true,
	}}
}

// sdkCredential is the client's token as an azcore credential.
type sdkCredential struct{ c *Client }

func (s sdkCredential) GetToken(ctx context.Context, o policy.TokenRequestOptions) (azcore.AccessToken, error) {
	scope := ARMScope
	if len(o.Scopes) > 0 {
		scope = o.Scopes[0]
	}
	t, err := s.c.Token(ctx, scope)
	if err != nil {
		return azcore.AccessToken{}, err
	}
	return azcore.AccessToken{Token: t.Token, ExpiresOn: t.ExpiresOn}, nil
}

// Raw runs an SDK call with a context that captures its last response
// (for a long-running operation, the final one) and returns that response's
// JSON body as az prints it: the raw ARM JSON, not the SDK's model, which
// would drop the keys it does not know. SDK errors become *APIError, and
// transport errors this client's explanation.
func (c *Client) Raw(ctx context.Context, call func(ctx context.Context) error) (map[string]any, error) {
	var resp *http.Response
	if err := call(runtime.WithCaptureResponse(ctx, &resp)); err != nil {
		return nil, c.sdkError(err)
	}
	if resp == nil {
		return nil, nil
	}
	body, err := runtime.Payload(resp)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	return m, decodeInto(body, &m)
}

// RawPages pages through an SDK pager and returns the raw items of every
// page's "value".
func RawPages[T any](ctx context.Context, c *Client, p *runtime.Pager[T]) ([]map[string]any, error) {
	items := []map[string]any{}
	for p.More() {
		var page struct {
			Value []map[string]any `json:"value"`
		}
		var resp *http.Response
		if _, err := p.NextPage(runtime.WithCaptureResponse(ctx, &resp)); err != nil {
			return nil, c.sdkError(err)
		}
		body, err := runtime.Payload(resp)
		if err != nil {
			return nil, err
		}
		if err := decodeInto(body, &page); err != nil {
			return nil, err
		}
		items = append(items, page.Value...)
	}
	return items, nil
}

// sdkError turns an SDK error into the client's: an ARM error answer into
// *APIError, a failure to reach the server into transportError's text.
func (c *Client) sdkError(err error) error {
	var re *azcore.ResponseError
	var ue *url.Error
	switch {
	case errors.As(err, &re) && re.RawResponse != nil:
		body, _ := runtime.Payload(re.RawResponse)
		if re.StatusCode < 400 {
			return operationError(re.StatusCode, body)
		}
		return DecodeAPIError(re.StatusCode, body)
	case errors.As(err, &ue):
		return c.transportError(err)
	}
	return err
}
