package webauthn

import (
	"context"
	"encoding/json"
)

// CreateJSON runs navigator.credentials.create() with the creation options
// JSON a relying party sends (bare or as {"publicKey": ...}) and returns
// the JSON a page posts back: PublicKeyCredential.toJSON().
func (c *Client) CreateJSON(ctx context.Context, options []byte) ([]byte, error) {
	o, err := ParseCreationOptions(options)
	if err != nil {
		return nil, err
	}
	cred, err := c.Create(ctx, o)
	if err != nil {
		return nil, err
	}
	return json.Marshal(cred)
}

// GetJSON runs navigator.credentials.get() with the request options JSON
// a relying party sends (bare or as {"publicKey": ...}) and returns
// PublicKeyCredential.toJSON().
func (c *Client) GetJSON(ctx context.Context, options []byte) ([]byte, error) {
	o, err := ParseRequestOptions(options)
	if err != nil {
		return nil, err
	}
	cred, err := c.Get(ctx, o)
	if err != nil {
		return nil, err
	}
	return json.Marshal(cred)
}
