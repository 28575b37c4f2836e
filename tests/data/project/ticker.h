struct account {
	int id;
	long balance;
};
int quota_allowed(const struct account *a, long amount);
const char *table_name(int i);
extern struct account accounts[4];
