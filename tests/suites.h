/* suites.h - one suite function per area of the contract, called by main.c. */
#ifndef TH_SUITES_H
#define TH_SUITES_H
void suite_env(void);
void suite_thread(void);
void suite_client(void);
void suite_raise(void);
void suite_faults(void);
void suite_sites(void);
void suite_misc(void);
#endif
