int _placeholder_eth = 0;
