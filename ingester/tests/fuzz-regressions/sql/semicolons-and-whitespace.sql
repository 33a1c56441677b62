-- expect: accepted
SELECT 1 ;; 
	;
