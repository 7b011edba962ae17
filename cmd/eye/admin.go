package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/term"

	"github.com/theeye/eye"
	"github.com/theeye/eye/internal/admin"
	"github.com/theeye/eye/internal/api"
	"github.com/theeye/eye/internal/lifecycle"
)

// These commands work on the store directly: no server needs to run. A
// running server sees their changes within its key refresh interval.

// apps runs "eye apps create NAME" and "eye apps list".
func apps(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError(stderr, "Usage: eye apps create NAME | eye apps list")
	}
	var c config
	rest, err := c.parseWith("apps "+args[0], "", args[1:], getenv, stderr, nil)
	if err != nil {
		return err
	}
	log := c.logger(stderr)
	s, err := openStore(ctx, c, log, true)
	if err != nil {
		return err
	}
	defer s.Close()
	switch {
	case args[0] == "create" && len(rest) == 1:
		name := strings.TrimSpace(rest[0])
		if name == "" || len([]rune(name)) > eye.MaxApplicationNameLen {
			return fmt.Errorf("the name must have 1 to %d characters", eye.MaxApplicationNameLen)
		}
		a := eye.Application{ID: eye.NewID(), Name: name, CreatedAt: time.Now().UTC(), Active: true}
		if err := s.CreateApplication(ctx, a); err != nil {
			return fmt.Errorf("create application: %s", eye.ErrorMessage(err))
		}
		recordCLI(ctx, s, log, eye.ActionApplicationCreate, a.ID, map[string]any{"name": a.Name})
		fmt.Fprintf(stdout, "Application %q created: %s\n", a.Name, a.ID)
		return nil
	case args[0] == "list" && len(rest) == 0:
		list, err := s.Applications(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tACTIVE\tCREATED")
		for _, a := range list {
			fmt.Fprintf(tw, "%s\t%s\t%v\t%s\n", a.ID, a.Name, a.Active, eye.FormatTime(a.CreatedAt))
		}
		return tw.Flush()
	}
	return usageError(stderr, "Usage: eye apps create NAME | eye apps list")
}

// keys runs "eye keys create --app NAME --scope ingest[,read] [--label L]
// [--expires WHEN]", "eye keys list --app NAME" and "eye keys revoke ID".
func keys(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	const usage = "Usage: eye keys create --app NAME --scope ingest[,read,admin] [--label LABEL] [--expires 90d|2027-01-01T00:00:00Z]" +
		" | eye keys list --app NAME | eye keys revoke ID"
	if len(args) == 0 {
		return usageError(stderr, usage)
	}
	var (
		c                          config
		app, scope, label, expires string
	)
	rest, err := c.parseWith("keys "+args[0], "", args[1:], getenv, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&app, "app", "", "the application's name")
		fs.StringVar(&scope, "scope", "", "comma-separated scopes: ingest, read, admin")
		fs.StringVar(&label, "label", "", "a label to recognize the key by")
		fs.StringVar(&expires, "expires", "", "when the key stops working: a period from now (90d, 12h: at least 1h) or a time (RFC 3339); default never")
	})
	if err != nil {
		return err
	}
	log := c.logger(stderr)
	s, err := openStore(ctx, c, log, true)
	if err != nil {
		return err
	}
	defer s.Close()
	switch {
	case args[0] == "create" && len(rest) == 0 && app != "":
		a, err := s.ApplicationByName(ctx, app)
		if err != nil {
			return errors.New(eye.ErrorMessage(err))
		}
		if !a.Active {
			return fmt.Errorf("the application %q is deactivated", a.Name)
		}
		scopes, err := parseScopes(scope)
		if err != nil {
			return err
		}
		expiresAt, err := parseExpiry(expires, time.Now())
		if err != nil {
			return err
		}
		secret, key := api.NewSecret()
		key.Scopes, key.Label, key.ApplicationID, key.ExpiresAt = scopes, label, a.ID, expiresAt
		if err := s.CreateKey(ctx, key); err != nil {
			return err
		}
		details := map[string]any{"application_id": a.ID, "scopes": key.Scopes, "label": key.Label, "prefix": key.Prefix}
		until := "never expires"
		if !expiresAt.IsZero() {
			details["expires_at"] = eye.FormatTime(expiresAt)
			until = "expires at " + eye.FormatTime(expiresAt)
		}
		recordCLI(ctx, s, log, eye.ActionKeyCreate, key.ID, details)
		fmt.Fprintf(stderr, "Key %s (%s) created for %q with scopes %s; it %s. It is shown once; keep it secret:\n",
			key.ID, key.Prefix, a.Name, strings.Join(scopes, ","), until)
		fmt.Fprintln(stdout, secret)
		return nil
	case args[0] == "list" && len(rest) == 0 && app != "":
		a, err := s.ApplicationByName(ctx, app)
		if err != nil {
			return errors.New(eye.ErrorMessage(err))
		}
		list, err := s.ApplicationKeys(ctx, a.ID)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tPREFIX\tSCOPES\tLABEL\tCREATED\tEXPIRES\tLAST USED\tREVOKED")
		orDash := func(t time.Time) string {
			if t.IsZero() {
				return "-"
			}
			return eye.FormatTime(t)
		}
		for _, k := range list {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Prefix, strings.Join(k.Scopes, ","), k.Label,
				eye.FormatTime(k.CreatedAt), orDash(k.ExpiresAt), orDash(k.LastUsedAt), orDash(k.RevokedAt))
		}
		return tw.Flush()
	case args[0] == "revoke" && len(rest) == 1:
		if err := s.RevokeKey(ctx, "", rest[0]); err != nil {
			return errors.New(eye.ErrorMessage(err))
		}
		recordCLI(ctx, s, log, eye.ActionKeyRevoke, rest[0], nil)
		fmt.Fprintf(stdout, "Key %s revoked.\n", rest[0])
		return nil
	}
	return usageError(stderr, usage)
}

// parseExpiry reads the --expires of a key: a period from now, as
// EYE_RETENTION takes it (days, such as 90d, or a duration of at least an
// hour, such as 12h), or a time (RFC 3339), in the future. "" is never
// (the zero time).
func parseExpiry(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	at, err := eye.ParseTime(s)
	if err != nil {
		d, perr := lifecycle.ParsePeriod(s)
		if perr != nil {
			return time.Time{}, fmt.Errorf("--expires %q: use a period from now (90d, 12h) or a time (2027-01-01T00:00:00Z)", s)
		}
		at = now.Add(d)
	}
	if !at.After(now) {
		return time.Time{}, fmt.Errorf("--expires %q is not in the future", s)
	}
	return at.UTC().Truncate(time.Microsecond), nil
}

func parseScopes(list string) ([]string, error) {
	var scopes []string
	for sc := range strings.SplitSeq(list, ",") {
		sc = strings.TrimSpace(sc)
		switch sc {
		case eye.ScopeIngest, eye.ScopeRead, eye.ScopeAdmin, eye.ScopeBrowser:
			if !slices.Contains(scopes, sc) {
				scopes = append(scopes, sc)
			}
		case "":
		default:
			return nil, fmt.Errorf("%q is not a scope: use ingest, read, admin or browser", sc)
		}
	}
	if len(scopes) == 0 {
		return nil, errors.New("--scope is required: ingest, read or admin, comma-separated, or browser alone")
	}
	if slices.Contains(scopes, eye.ScopeBrowser) && len(scopes) > 1 {
		return nil, errors.New("browser keys are public: the browser scope cannot be combined with another")
	}
	return scopes, nil
}

// usersUsage is the usage of the users command.
const usersUsage = "Usage: eye users create NAME | eye users list | eye users passwd NAME | eye users delete NAME\n" +
	"(create and passwd read the password from EYE_PASSWORD, or ask for it)"

// users runs "eye users create NAME", "eye users list", "eye users passwd
// NAME" (a new password, which ends the user's logins) and "eye users
// delete NAME" (which ends them too). A password comes from EYE_PASSWORD
// or from a prompt that does not echo.
func users(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError(stderr, usersUsage)
	}
	cmd := args[0]
	var c config
	operand := "NAME"
	if cmd == "list" {
		operand = ""
	}
	rest, err := c.parseWith("users "+cmd, operand, args[1:], getenv, stderr, nil)
	if err != nil {
		return err
	}
	name := ""
	switch {
	case cmd == "list" && len(rest) == 0:
	case (cmd == "create" || cmd == "passwd" || cmd == "delete") && len(rest) == 1 && strings.TrimSpace(rest[0]) != "":
		name = strings.TrimSpace(rest[0])
	default:
		return usageError(stderr, usersUsage)
	}
	var hash []byte
	if cmd == "create" || cmd == "passwd" {
		if hash, err = newPasswordHash(getenv, stdin, stderr); err != nil {
			return err
		}
	}
	log := c.logger(stderr)
	s, err := openStore(ctx, c, log, true)
	if err != nil {
		return err
	}
	defer s.Close()
	switch cmd {
	case "create":
		u := eye.User{ID: eye.NewID(), Name: name, PasswordHash: hash, CreatedAt: time.Now().UTC()}
		if err := s.CreateUser(ctx, u); err != nil {
			return errors.New(eye.ErrorMessage(err))
		}
		recordCLI(ctx, s, log, eye.ActionUserCreate, u.ID, map[string]any{"name": u.Name})
		fmt.Fprintf(stdout, "User %q created.\n", u.Name)
	case "list":
		list, err := s.Users(ctx)
		if err != nil {
			return fmt.Errorf("list users: %w", err)
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tCREATED")
		for _, u := range list {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", u.ID, u.Name, eye.FormatTime(u.CreatedAt))
		}
		return tw.Flush()
	case "passwd":
		u, err := s.UserByName(ctx, name)
		if err != nil {
			return errors.New(eye.ErrorMessage(err))
		}
		if err := s.SetUserPassword(ctx, u.ID, hash); err != nil {
			return errors.New(eye.ErrorMessage(err))
		}
		recordCLI(ctx, s, log, eye.ActionUserPasswordReset, u.ID, map[string]any{"name": u.Name})
		fmt.Fprintf(stdout, "User %q has a new password; the user's logins are ended.\n", u.Name)
	case "delete":
		u, err := s.UserByName(ctx, name)
		if err != nil {
			return errors.New(eye.ErrorMessage(err))
		}
		if err := s.DeleteUser(ctx, u.ID); err != nil {
			return errors.New(eye.ErrorMessage(err))
		}
		recordCLI(ctx, s, log, eye.ActionUserDelete, u.ID, map[string]any{"name": u.Name})
		fmt.Fprintf(stdout, "User %q deleted; the user's logins are ended.\n", u.Name)
	}
	return nil
}

// newPasswordHash reads a new password from EYE_PASSWORD or a prompt,
// checks its length and returns its bcrypt hash.
func newPasswordHash(getenv func(string) string, stdin io.Reader, stderr io.Writer) ([]byte, error) {
	password := getenv("EYE_PASSWORD")
	if password == "" {
		var err error
		if password, err = promptPassword(stdin, stderr); err != nil {
			return nil, err
		}
	}
	return admin.HashPassword(password)
}

// promptPassword asks for a password twice on a terminal, without echo.
func promptPassword(stdin io.Reader, stderr io.Writer) (string, error) {
	f, ok := stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return "", errors.New("no terminal to ask for the password: set EYE_PASSWORD")
	}
	read := func(prompt string) (string, error) {
		fmt.Fprint(stderr, prompt)
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(stderr)
		return string(b), err
	}
	p1, err := read("Password: ")
	if err != nil {
		return "", fmt.Errorf("read password: %w", err)
	}
	p2, err := read("Password again: ")
	if err != nil {
		return "", fmt.Errorf("read password: %w", err)
	}
	if p1 != p2 {
		return "", errors.New("the passwords differ")
	}
	return p1, nil
}

func usageError(stderr io.Writer, usage string) error {
	fmt.Fprintln(stderr, usage)
	return flag.ErrHelp
}
