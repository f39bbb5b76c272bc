package samltest

import "syscall"

// sysProcAttr makes the kernel kill php when the test binary dies before it could stop it.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
