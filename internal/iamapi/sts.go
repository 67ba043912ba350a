package iamapi

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"

	"github.com/aloft-dev/aloft/internal/awsproto"
	"github.com/aloft-dev/aloft/internal/iam"
)

type credentialsXML struct {
	AccessKeyId     string
	SecretAccessKey string
	SessionToken    string
	Expiration      string
}

func credentialsOut(c *iam.Credentials) credentialsXML {
	return credentialsXML{c.AccessKeyID, c.SecretAccessKey, c.SessionToken, c.Expiration.UTC().Format(timeFormat)}
}

// NewSTS returns the STS API over s.
func NewSTS(s *iam.Store, log *slog.Logger) http.Handler {
	a := &awsproto.QueryAPI{Version: STSVersion, Namespace: stsNS, Errors: stsError, Log: log}
	a.HandleQuery("GetCallerIdentity", func(ctx context.Context, _ url.Values) (any, error) {
		c := caller(ctx)
		return struct{ Arn, UserId, Account string }{c.ARN, c.UserID, awsproto.AccountID}, nil
	})
	a.HandleQuery("AssumeRole", func(ctx context.Context, p url.Values) (any, error) {
		if err := unsupported(p, "Policy", "PolicyArns", "Tags", "TransitiveTagKeys", "ExternalId", "SerialNumber", "TokenCode", "SourceIdentity", "ProvidedContexts"); err != nil {
			return nil, err
		}
		role, err := required(p, "RoleArn")
		if err != nil {
			return nil, err
		}
		session, err := required(p, "RoleSessionName")
		if err != nil {
			return nil, err
		}
		d, err := seconds(p, "DurationSeconds")
		if err != nil {
			return nil, err
		}
		creds, who, err := s.AssumeRole(caller(ctx), role, session, d)
		if err != nil {
			return nil, err
		}
		type assumed struct{ AssumedRoleId, Arn string }
		return struct {
			Credentials     credentialsXML
			AssumedRoleUser assumed
		}{credentialsOut(creds), assumed{who.ID, who.ARN}}, nil
	})
	a.HandleQuery("GetSessionToken", func(ctx context.Context, p url.Values) (any, error) {
		if err := unsupported(p, "SerialNumber", "TokenCode"); err != nil {
			return nil, err
		}
		d, err := seconds(p, "DurationSeconds")
		if err != nil {
			return nil, err
		}
		creds, err := s.SessionToken(caller(ctx), d)
		if err != nil {
			return nil, err
		}
		return struct{ Credentials credentialsXML }{credentialsOut(creds)}, nil
	})
	return a
}

// stsError words package iam's refusals as STS does: its validation
// errors are ValidationError.
func stsError(err error) *awsproto.Error {
	e := wireError(err)
	if e != nil && e.Code == "InvalidInput" {
		e.Code = "ValidationError"
	}
	return e
}
