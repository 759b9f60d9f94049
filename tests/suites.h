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
void suite_inline(void);
void suite_track(void);
void suite_describe(void);
void suite_realloc(void);
void suite_recycle(void);
void suite_poison(void);
void suite_cache(void);
void suite_strings(void);
void suite_cleanups(void);
void suite_backing(void);
void suite_fork(void);
void suite_diff(void);
#endif
