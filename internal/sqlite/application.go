package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	"github.com/theeye/eye"
)

// conflict turns a uniqueness violation into ECONFLICT.
func conflict(op string, err error, format string, args ...any) error {
	if err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed") {
		return eye.Errorf(eye.ECONFLICT, format, args...)
	}
	return unavailable(op, err)
}

const applicationColumns = `id, name, created_at, active, allowed_origins`

func scanApplication(sc scanner) (eye.Application, error) {
	var (
		a       eye.Application
		created int64
		origins string
	)
	err := sc.Scan(&a.ID, &a.Name, &created, &a.Active, &origins)
	a.CreatedAt = fromMicros(created)
	a.AllowedOrigins = strings.Fields(origins)
	return a, err
}

// CreateApplication stores a new application.
func (s *Store) CreateApplication(ctx context.Context, a eye.Application) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO applications (id, name, created_at, active, allowed_origins) VALUES (?, ?, ?, ?, ?)`,
		a.ID, a.Name, micros(a.CreatedAt), a.Active, strings.Join(a.AllowedOrigins, " "))
	return conflict("create application", err, "An application is named %q already.", a.Name)
}

// Application returns the application with the id.
func (s *Store) Application(ctx context.Context, id string) (eye.Application, error) {
	return s.application(ctx, "id", id)
}

// ApplicationByName returns the application with the name.
func (s *Store) ApplicationByName(ctx context.Context, name string) (eye.Application, error) {
	return s.application(ctx, "name", name)
}

func (s *Store) application(ctx context.Context, column, value string) (eye.Application, error) {
	// column is one of two constants, never input.
	a, err := scanApplication(s.r.QueryRowContext(ctx, `SELECT `+applicationColumns+` FROM applications WHERE `+column+` = ?`, value))
	if errors.Is(err, sql.ErrNoRows) {
		return a, eye.Errorf(eye.ENOTFOUND, "No application has the %s %q.", column, value)
	} else if err != nil {
		return a, unavailable("get application", err)
	}
	return a, nil
}

// Applications returns every application, oldest first.
func (s *Store) Applications(ctx context.Context) ([]eye.Application, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+applicationColumns+` FROM applications ORDER BY created_at, id`)
	if err != nil {
		return nil, unavailable("list applications", err)
	}
	defer rows.Close()
	apps := []eye.Application{}
	for rows.Next() {
		a, err := scanApplication(rows)
		if err != nil {
			return nil, unavailable("scan application", err)
		}
		apps = append(apps, a)
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable("list applications", err)
	}
	return apps, nil
}

// UpdateApplication changes an application's name, active flag and
// allowed origins.
func (s *Store) UpdateApplication(ctx context.Context, a eye.Application) error {
	r, err := s.w.ExecContext(ctx, `UPDATE applications SET name = ?, active = ?, allowed_origins = ? WHERE id = ?`,
		a.Name, a.Active, strings.Join(a.AllowedOrigins, " "), a.ID)
	if err != nil {
		return conflict("update application", err, "An application is named %q already.", a.Name)
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return eye.Errorf(eye.ENOTFOUND, "No application has the id %q.", a.ID)
	}
	return nil
}

// CreateUser stores a new admin user.
func (s *Store) CreateUser(ctx context.Context, u eye.User) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO users (id, name, password_hash, created_at) VALUES (?, ?, ?, ?)`,
		u.ID, u.Name, u.PasswordHash, micros(u.CreatedAt))
	return conflict("create user", err, "A user is named %q already.", u.Name)
}

const userColumns = `id, name, password_hash, created_at`

func scanUser(sc scanner) (eye.User, error) {
	var (
		u       eye.User
		created int64
	)
	err := sc.Scan(&u.ID, &u.Name, &u.PasswordHash, &created)
	u.CreatedAt = fromMicros(created)
	return u, err
}

// User returns the user with the id.
func (s *Store) User(ctx context.Context, id string) (eye.User, error) {
	return s.user(ctx, "id", id)
}

// UserByName returns the user with the name.
func (s *Store) UserByName(ctx context.Context, name string) (eye.User, error) {
	return s.user(ctx, "name", name)
}

func (s *Store) user(ctx context.Context, column, value string) (eye.User, error) {
	// column is one of two constants, never input.
	u, err := scanUser(s.r.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE `+column+` = ?`, value))
	if errors.Is(err, sql.ErrNoRows) {
		return u, eye.Errorf(eye.ENOTFOUND, "No user has the %s %q.", column, value)
	} else if err != nil {
		return u, unavailable("get user", err)
	}
	return u, nil
}

// Users returns every user, oldest first.
func (s *Store) Users(ctx context.Context) ([]eye.User, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+userColumns+` FROM users ORDER BY created_at, id`)
	if err != nil {
		return nil, unavailable("list users", err)
	}
	defer rows.Close()
	users := []eye.User{}
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, unavailable("scan user", err)
		}
		users = append(users, u)
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable("list users", err)
	}
	return users, nil
}
