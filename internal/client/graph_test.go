package client

import (
	"encoding/json"
	"reflect"
	"testing"
)

// TestDecodeObject: typed Graph objects read their fields and keep the
// object as sent, keys they do not declare included.
func TestDecodeObject(t *testing.T) {
	tests := []struct {
		raw  string
		want any
	}{
		{`{"@odata.type":"#microsoft.graph.user","id":"u1","displayName":"Alice","userPrincipalName":"alice@x","jobTitle":null}`,
			&User{DirectoryObject{ODataType: "#microsoft.graph.user", ID: "u1", DisplayName: "Alice"}, "alice@x"}},
		{`{"id":"sp1","appId":"a1","servicePrincipalNames":["a1","http://x"],"appOwnerOrganizationId":"t1"}`,
			&ServicePrincipal{DirectoryObject{ID: "sp1"}, "a1", []string{"a1", "http://x"}, "t1"}},
		{`{"id":"app1","appId":"a1","web":{}}`, &Application{DirectoryObject{ID: "app1"}, "a1"}},
		{`{"id":"g1","displayName":"devs","securityEnabled":true}`, &Group{DirectoryObject{ID: "g1", DisplayName: "devs"}}},
	}
	for _, tt := range tests {
		var got any
		var err error
		switch tt.want.(type) {
		case *User:
			got, err = decodeObject[User](json.RawMessage(tt.raw))
		case *ServicePrincipal:
			got, err = decodeObject[ServicePrincipal](json.RawMessage(tt.raw))
		case *Application:
			got, err = decodeObject[Application](json.RawMessage(tt.raw))
		case *Group:
			got, err = decodeObject[Group](json.RawMessage(tt.raw))
		}
		if err != nil {
			t.Fatal(err)
		}
		raw := got.(interface{ Raw() json.RawMessage }).Raw()
		if string(raw) != tt.raw {
			t.Errorf("raw %s, want %s", raw, tt.raw)
		}
		reflect.ValueOf(got).Elem().FieldByName("DirectoryObject").FieldByName("JSON").SetBytes(nil)
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("decoded %+v, want %+v", got, tt.want)
		}
	}
	if _, err := decodeObject[User](json.RawMessage(`[1]`)); err == nil {
		t.Error("a non-object decoded")
	}
}
