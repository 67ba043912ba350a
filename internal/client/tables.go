package client

import "github.com/aws/aws-sdk-go-v2/service/dynamodb"

// DynamoDB returns a DynamoDB client for the server.
func (c *Client) DynamoDB() *dynamodb.Client { return dynamodb.NewFromConfig(c.cfg) }
