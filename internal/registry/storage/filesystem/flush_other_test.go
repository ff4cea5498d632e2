//go:build !unix

package filesystem_test

func settle() {}
