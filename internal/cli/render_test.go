package cli

import (
	"reflect"
	"testing"
)

func TestResourceGroupOf(t *testing.T) {
	tests := []struct {
		id, want string
		ok       bool
	}{
		{"/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/r", "rg", true},
		{"/subscriptions/s/resourcegroups/RG/providers/Microsoft.Authorization/roleAssignments/x", "RG", true},
		{"/subscriptions/s/resourceGroups/rg", "", false},
		{"/subscriptions/s/providers/Microsoft.Authorization/roleDefinitions/x", "", false},
		{"00000000-0000-0000-0000-000000000000", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		got, ok := resourceGroupOf(tt.id)
		if got != tt.want || ok != tt.ok {
			t.Errorf("resourceGroupOf(%q) = %q, %v", tt.id, got, ok)
		}
	}
}

func TestAddResourceGroups(t *testing.T) {
	doc, _ := toGeneric([]any{
		map[string]any{"id": "/subscriptions/s/resourceGroups/rg/providers/P/t/n", "nested": map[string]any{"id": "/subscriptions/s/resourceGroups/other/providers/P/t/m"}},
		map[string]any{"id": "/subscriptions/s/resourceGroups/rg/providers/P/t/n", "ResourceGroup": "keep"},
		map[string]any{"id": "/subscriptions/s/resourceGroups/rg"},
		map[string]any{"sourceVault": map[string]any{"id": "/subscriptions/s/resourceGroups/v/providers/P/t/n"}},
	})
	addResourceGroups(doc)
	items := doc.([]any)
	if got := items[0].(map[string]any); got["resourceGroup"] != "rg" || got["nested"].(map[string]any)["resourceGroup"] != "other" {
		t.Errorf("item 0 = %v", got)
	}
	if _, ok := items[1].(map[string]any)["resourceGroup"]; ok {
		t.Error("existing ResourceGroup overwritten")
	}
	if _, ok := items[2].(map[string]any)["resourceGroup"]; ok {
		t.Error("resource group ID got a resourceGroup")
	}
	if _, ok := items[3].(map[string]any)["sourceVault"].(map[string]any)["resourceGroup"]; ok {
		t.Error("sourceVault was descended into")
	}
}

func TestFlatten(t *testing.T) {
	tests := []struct {
		name string
		in   map[string]any
		want map[string]any
	}{
		{
			"registry",
			map[string]any{"id": "i", "name": "n", "location": "westus", "sku": map[string]any{"name": "Basic"},
				"properties": map[string]any{"loginServer": "n.azurecr.io", "adminUserEnabled": false}},
			map[string]any{"id": "i", "name": "n", "location": "westus", "sku": map[string]any{"name": "Basic"}, "tags": map[string]any{},
				"loginServer": "n.azurecr.io", "adminUserEnabled": false},
		},
		{
			"top level wins, tags kept",
			map[string]any{"name": "top", "location": "x", "tags": map[string]any{"a": "b"}, "properties": map[string]any{"name": "inner"}},
			map[string]any{"name": "top", "location": "x", "tags": map[string]any{"a": "b"}},
		},
		{"no properties", map[string]any{"id": "i"}, map[string]any{"id": "i"}},
	}
	for _, tt := range tests {
		if got := flatten(tt.in); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: flatten = %v, want %v", tt.name, got, tt.want)
		}
	}
	if flatten(nil) != nil {
		t.Error("flatten(nil)")
	}
}

func TestParseTags(t *testing.T) {
	tests := []struct {
		in      []string
		want    map[string]string
		wantErr bool
	}{
		{nil, nil, false},
		{[]string{""}, map[string]string{}, false},
		{[]string{"a=1", "b", "c=x=y"}, map[string]string{"a": "1", "b": "", "c": "x=y"}, false},
		{[]string{"=v"}, nil, true},
	}
	for _, tt := range tests {
		got, err := parseTags(tt.in)
		if (err != nil) != tt.wantErr || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("parseTags(%q) = %v, %v", tt.in, got, err)
		}
	}
}

func TestVMIdentity(t *testing.T) {
	mi := "/subscriptions/s/resourceGroups/other/providers/Microsoft.ManagedIdentity/userAssignedIdentities/x"
	got := vmIdentity("s", "rg", []string{"id1", mi, "[system]"})
	want := map[string]any{
		"type": "SystemAssigned, UserAssigned",
		"userAssignedIdentities": map[string]any{
			"/subscriptions/s/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id1": map[string]any{},
			mi: map[string]any{},
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("vmIdentity = %v", got)
	}
	if got := vmIdentity("s", "rg", []string{"[system]"}); !reflect.DeepEqual(got, map[string]any{"type": "SystemAssigned"}) {
		t.Errorf("system only = %v", got)
	}
}

func TestCloudJSON(t *testing.T) {
	md := map[string]any{
		"name": "drydock", "resourceManager": "https://h/", "gallery": "https://h/", "portal": "https://h/",
		"authentication": map[string]any{"loginEndpoint": "https://h/adfs", "audiences": []any{"https://management.core.windows.net/"}},
		"graph":          "https://h/graph/", "microsoftGraphResourceId": "https://h/graph/",
		"suffixes": map[string]any{"acrLoginServer": "azurecr.local"},
		"drydock":  map[string]any{"caFile": "/ca.pem", "registryAddress": "127.0.0.1:443"},
	}
	got := cloudJSON(md)
	// What `az cloud show` prints after `az cloud register` with the
	// config `drydock up` prints (checked against az 2.45).
	want := map[string]any{
		"activeDirectory": "https://h/adfs", "activeDirectoryGraphResourceId": "https://h/graph/",
		"activeDirectoryResourceId": "https://management.core.windows.net/", "gallery": "https://h/", "management": "https://h/",
		"microsoftGraphResourceId": "https://h/graph/", "resourceManager": "https://h/", "portal": nil, "batchResourceId": nil,
	}
	ep := got["endpoints"].(map[string]any)
	for k, v := range want {
		if ep[k] != v {
			t.Errorf("endpoints.%s = %v, want %v", k, ep[k], v)
		}
	}
	if len(ep) != len(azCloudEndpoints) {
		t.Errorf("endpoints has %d keys, az prints %d", len(ep), len(azCloudEndpoints))
	}
	if got["name"] != "drydock" || got["isActive"] != true || got["profile"] != "latest" || got["caFile"] != "/ca.pem" || got["registryAddress"] != "127.0.0.1:443" ||
		got["suffixes"].(map[string]any)["acrLoginServerEndpoint"] != ".azurecr.local" || got["suffixes"].(map[string]any)["keyvaultDns"] != nil {
		t.Errorf("cloudJSON = %v", got)
	}
	if empty := cloudJSON(map[string]any{}); empty["name"] != "drydock" || empty["caFile"] != nil {
		t.Errorf("cloudJSON(empty) = %v", empty)
	}
}
