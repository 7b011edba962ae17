package admin

import (
	"fmt"

	"golang.org/x/crypto/bcrypt"
)

// MinPasswordLen is the shortest password a user may have, in bytes.
const MinPasswordLen = 10

// maxPasswordLen is the longest: bcrypt reads 72 bytes at most.
const maxPasswordLen = 72

// passwordCost is the bcrypt cost of users' password hashes.
const passwordCost = 12

// HashPassword checks a new password's length and returns its bcrypt hash.
func HashPassword(password string) ([]byte, error) {
	if len(password) < MinPasswordLen {
		return nil, fmt.Errorf("the password must have at least %d characters", MinPasswordLen)
	}
	if len(password) > maxPasswordLen {
		return nil, fmt.Errorf("the password must have at most %d bytes", maxPasswordLen)
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), passwordCost)
	if err != nil {
		return nil, fmt.Errorf("hash password: %w", err)
	}
	return hash, nil
}
