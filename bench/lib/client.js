'use strict';
// The benchmarks' one client of the service: its tasks belong to the owner `bench`; production keys have at least
// 16 characters.
const CLIENT = 'bench';
const CLIENT_KEY = 'bench-client-key-0001';
const clientHeaders = { authorization: `Bearer ${CLIENT_KEY}` };

module.exports = { CLIENT, CLIENT_KEY, clientHeaders };
