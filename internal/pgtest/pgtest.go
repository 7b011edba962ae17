// Package pgtest gives tests a PostgreSQL database of their own on the
// server named by EYE_TEST_POSTGRES_URL.
package pgtest

import (
	"context"
	"crypto/rand"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// ServerURL returns the URL of the PostgreSQL server the tests use, from
// EYE_TEST_POSTGRES_URL; without it the test is skipped, or fails when
// EYE_TEST_REQUIRE_SERVICES=1 (CI).
func ServerURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("EYE_TEST_POSTGRES_URL")
	if u == "" {
		if os.Getenv("EYE_TEST_REQUIRE_SERVICES") == "1" {
			t.Fatal("EYE_TEST_POSTGRES_URL is not set, and EYE_TEST_REQUIRE_SERVICES=1")
		}
		t.Skip("EYE_TEST_POSTGRES_URL is not set: set it to a PostgreSQL server " +
			"(such as postgres://postgres@127.0.0.1:5432/test?sslmode=disable) to run this test")
	}
	return u
}

// Database creates an empty database for one test on the server of
// EYE_TEST_POSTGRES_URL, drops it when the test ends, and returns its URL.
// Tests touch no other data. The server's user needs CREATEDB.
func Database(t testing.TB) string {
	t.Helper()
	server := ServerURL(t)
	u, err := url.Parse(server)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Fatal("EYE_TEST_POSTGRES_URL must be a postgres:// URL")
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, server)
	if err != nil {
		t.Fatalf("connect to EYE_TEST_POSTGRES_URL: %v", err)
	}
	defer conn.Close(ctx)
	name := "eye_test_" + strings.ToLower(rand.Text())
	db := pgx.Identifier{name}.Sanitize()
	if _, err := conn.Exec(ctx, `CREATE DATABASE `+db); err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		conn, err := pgx.Connect(ctx, server)
		if err != nil {
			t.Errorf("drop database %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, `DROP DATABASE IF EXISTS `+db+` WITH (FORCE)`); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	u.Path = "/" + name
	return u.String()
}
