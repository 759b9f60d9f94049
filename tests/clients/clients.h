/* clients.h - the suites of the client tests (tests/clients/main.c runs them). */
#ifndef CLIENTS_H_INCLUDED
#define CLIENTS_H_INCLUDED
void suite_cjson(void);
void suite_lua(void);
void suite_ndr(void);
/* Writes the NDR seed corpus (tests/clients/ndr_corpus) into dir; 0 on success. */
int ndr_write_corpus(const char *dir);
#endif
