package file

// sysRenameat2 is renameat2(2)'s number here. The syscall package has no constant for it, and
// golang.org/x/sys would be a dependency for one call.
const sysRenameat2 = 316
