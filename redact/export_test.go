package redact

// KeyWords exports keyWords to the tests.
var KeyWords = keyWords
