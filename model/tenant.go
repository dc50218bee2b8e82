package model

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// TenantHeader carries the tenant ID on every request, as in Tempo and Mimir.
const TenantHeader = "X-Scope-OrgID"

// DefaultTenant is the tenant of every request when auth is off (Tempo's default).
const DefaultTenant = "single-tenant"

// CoordinatorPrefix is the top-level object-store directory where
// coordinators keep what they share (clients' receiver requests). It is
// not a tenant: no request may name it, and tenant listings skip it.
const CoordinatorPrefix = "_coordinator"

// ErrBadTenant is returned for a tenant ID that cannot be used as a path element.
var ErrBadTenant = errors.New("invalid tenant ID")

// ValidateTenant checks a tenant ID from a header. Tenants become object-store
// path elements, so separators and dot-only names are refused.
func ValidateTenant(t string) error {
	switch {
	case t == "":
		return fmt.Errorf("%w: empty", ErrBadTenant)
	case len(t) > 150:
		return fmt.Errorf("%w: longer than 150 characters", ErrBadTenant)
	case t == "." || t == ".." || t == CoordinatorPrefix:
		return fmt.Errorf("%w: %q", ErrBadTenant, t)
	case strings.ContainsAny(t, "/\\|\x00"):
		return fmt.Errorf("%w: %q contains a path separator", ErrBadTenant, t)
	}
	return nil
}

// Tenant is the tenant named by an X-Scope-OrgID value (header or gRPC
// metadata): DefaultTenant when it is empty, else the value if it is valid.
func Tenant(value string) (string, error) {
	if value == "" {
		return DefaultTenant, nil
	}
	if err := ValidateTenant(value); err != nil {
		return "", fmt.Errorf("%s: %w", TenantHeader, err)
	}
	return value, nil
}

// GRPCTenant is the tenant of a gRPC call: value when it is set (a field
// of the request), else the x-scope-orgid metadata, else DefaultTenant.
// An invalid one is an InvalidArgument status.
func GRPCTenant(ctx context.Context, value string) (string, error) {
	if value == "" {
		md, _ := metadata.FromIncomingContext(ctx)
		if v := md.Get(strings.ToLower(TenantHeader)); len(v) > 0 {
			value = v[0]
		}
	}
	tenant, err := Tenant(value)
	if err != nil {
		return "", status.Error(codes.InvalidArgument, err.Error())
	}
	return tenant, nil
}
