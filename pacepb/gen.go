// Package pacepb is the generated gRPC API between pace's roles.
package pacepb

//go:generate protoc --go_out=. --go_opt=paths=source_relative --go-grpc_out=. --go-grpc_opt=paths=source_relative pace.proto
