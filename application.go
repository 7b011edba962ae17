package eye

import "time"

// Application is a trusted client: a website or app that sends events
// with its own API keys.
type Application struct {
	ID        string
	Name      string
	CreatedAt time.Time
	Active    bool // a deactivated application's keys stop working; its events stay

	// AllowedOrigins are the web origins (scheme://host[:port]) whose pages
	// may send events with the application's browser keys.
	AllowedOrigins []string
}

// MaxAllowedOrigins bounds an application's allowed origins.
const MaxAllowedOrigins = 100

// MaxApplicationNameLen bounds an application's name, in characters.
const MaxApplicationNameLen = 100

// User is a person who logs in to the admin web UI.
type User struct {
	ID           string
	Name         string
	PasswordHash []byte // bcrypt
	CreatedAt    time.Time
}
