"""Test harness shared by every feature's tests: real databases, the real App, the console platform."""
