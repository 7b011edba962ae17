package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/theeye/eye"
)

const applicationColumns = `id, name, created_at, active, allowed_origins`

func scanApplication(sc scanner) (eye.Application, error) {
	var (
		a       eye.Application
		created int64
	)
	err := sc.Scan(&a.ID, &a.Name, &created, &a.Active, &a.AllowedOrigins)
	a.CreatedAt = fromMicros(created)
	if len(a.AllowedOrigins) == 0 {
		a.AllowedOrigins = nil
	}
	return a, err
}

// origins returns an application's allowed origins as a text[] never NULL.
func origins(a eye.Application) []string {
	if a.AllowedOrigins == nil {
		return []string{}
	}
	return a.AllowedOrigins
}

// CreateApplication stores a new application.
func (s *Store) CreateApplication(ctx context.Context, a eye.Application) error {
	_, err := s.db.Exec(ctx, `INSERT INTO applications (id, name, created_at, active, allowed_origins)
		VALUES ($1, $2, $3, $4, $5)`, a.ID, a.Name, micros(a.CreatedAt), a.Active, origins(a))
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
	a, err := scanApplication(s.db.QueryRow(ctx, `SELECT `+applicationColumns+` FROM applications WHERE `+column+` = $1`, value))
	if errors.Is(err, pgx.ErrNoRows) {
		return a, eye.Errorf(eye.ENOTFOUND, "No application has the %s %q.", column, value)
	} else if err != nil {
		return a, storeError("get application", err)
	}
	return a, nil
}

// Applications returns every application, oldest first.
func (s *Store) Applications(ctx context.Context) ([]eye.Application, error) {
	rows, err := s.db.Query(ctx, `SELECT `+applicationColumns+` FROM applications ORDER BY created_at, id`)
	if err != nil {
		return nil, storeError("list applications", err)
	}
	defer rows.Close()
	apps := []eye.Application{}
	for rows.Next() {
		a, err := scanApplication(rows)
		if err != nil {
			return nil, storeError("scan application", err)
		}
		apps = append(apps, a)
	}
	if err := rows.Err(); err != nil {
		return nil, storeError("list applications", err)
	}
	return apps, nil
}

// UpdateApplication changes an application's name, active flag and
// allowed origins.
func (s *Store) UpdateApplication(ctx context.Context, a eye.Application) error {
	r, err := s.db.Exec(ctx, `UPDATE applications SET name = $1, active = $2, allowed_origins = $3 WHERE id = $4`,
		a.Name, a.Active, origins(a), a.ID)
	if err != nil {
		return conflict("update application", err, "An application is named %q already.", a.Name)
	}
	if r.RowsAffected() == 0 {
		return eye.Errorf(eye.ENOTFOUND, "No application has the id %q.", a.ID)
	}
	return nil
}

// CreateUser stores a new admin user.
func (s *Store) CreateUser(ctx context.Context, u eye.User) error {
	_, err := s.db.Exec(ctx, `INSERT INTO users (id, name, password_hash, created_at) VALUES ($1, $2, $3, $4)`,
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
	u, err := scanUser(s.db.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE `+column+` = $1`, value))
	if errors.Is(err, pgx.ErrNoRows) {
		return u, eye.Errorf(eye.ENOTFOUND, "No user has the %s %q.", column, value)
	} else if err != nil {
		return u, storeError("get user", err)
	}
	return u, nil
}

// Users returns every user, oldest first.
func (s *Store) Users(ctx context.Context) ([]eye.User, error) {
	rows, err := s.db.Query(ctx, `SELECT `+userColumns+` FROM users ORDER BY created_at, id`)
	if err != nil {
		return nil, storeError("list users", err)
	}
	defer rows.Close()
	users := []eye.User{}
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, storeError("scan user", err)
		}
		users = append(users, u)
	}
	if err := rows.Err(); err != nil {
		return nil, storeError("list users", err)
	}
	return users, nil
}
