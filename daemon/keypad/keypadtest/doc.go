// Package keypadtest provides fakes for testing code that uses package
// keypad: simulated matrix Pins and a Clock that moves only when told to.
package keypadtest
